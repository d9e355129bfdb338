#pragma once

// The HTTP API's bearer tokens (man/jobsd.8, HTTP API): kept in <state_dir>/tokens.json (mode
// 0600, replaced atomically) as their SHA-256 hashes only, with a name, a role and, for
// operators, the glob of the job ids they may act on. A token's text is shown once, when made.

#include <base/error.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobsd {

// viewer: read commands; operator: reads, and trigger, cancel, enable, disable, pause and resume
// on the jobs its glob matches; admin: everything.
enum class Role { viewer, operator_, admin };

std::optional<Role> parse_role(std::string_view text);
const char* to_string(Role role);

struct Token {
  std::string name;
  Role role = Role::viewer;
  std::string jobs = "*"; // fnmatch glob of the job ids an operator may act on
  std::string hash;       // SHA-256 of the token's text, lowercase hex
  std::int64_t created_ms = 0;
};

// Whether `role` with the glob `jobs` may run the command `cmd` on `job_id` (empty: the command
// names no job). `privileged`: more than a read for all (a mutating command, or a read for
// admins only such as the audit log).
bool role_allows(Role role, const std::string& jobs, const std::string& cmd, bool privileged,
                 const std::string& job_id);

class Tokens {
public:
  explicit Tokens(std::string path);

  // Reads the file; a missing one holds no token. One that is a link, not a regular file, not
  // owned by this process's user or readable by others is refused, as is one that is not valid.
  base::Result<bool> load();

  // Makes a token named `name` (letters, digits, '.', '_', '-'; at most 64), saves the file and
  // returns the token's text ("jobs_" and 43 characters of base64url).
  base::Result<std::string> create(const std::string& name, Role role, const std::string& jobs,
                                   std::int64_t now_ms);
  // Removes the token named `name`; false when there is none.
  base::Result<bool> revoke(const std::string& name);

  const std::vector<Token>& list() const { return tokens_; }

  // The token whose text is `text` (hashes compared in constant time), or null.
  const Token* find(std::string_view text) const;

private:
  base::Result<bool> save() const;

  std::string path_;
  std::vector<Token> tokens_;
};

} // namespace jobsd

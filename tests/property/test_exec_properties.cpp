// Properties of output capture: the bounded buffer keeps the first half of its limit and the
// last half, whatever the sizes of the pieces the output came in.
#include <exec/process.hpp>

#include <rapidcheck.h>

#include <string>
#include <vector>

bool run_exec_properties() {
  return rc::check("the bounded buffer keeps the head and the tail of all it was given", [] {
    const auto limit = *rc::gen::inRange<std::int64_t>(0, 64);
    const auto pieces = *rc::gen::container<std::vector<std::string>>(
        rc::gen::container<std::string>(rc::gen::inRange('a', 'z')));
    exec::BoundedBuffer buffer(limit);
    std::string all;
    for (const auto& piece : pieces) {
      buffer.append(piece);
      all += piece;
    }
    RC_ASSERT(buffer.total() == all.size());
    const auto size = static_cast<std::int64_t>(all.size());
    if (size <= limit) {
      RC_ASSERT(buffer.text() == all);
      return;
    }
    const auto head = static_cast<size_t>(limit / 2);
    const auto tail = static_cast<size_t>(limit - limit / 2);
    RC_ASSERT(buffer.text() == all.substr(0, head) + "\n[... " +
                                   std::to_string(all.size() - head - tail) +
                                   " bytes not kept ...]\n" + all.substr(all.size() - tail));
  });
}

#include "output.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace jobsctl {

bool stdout_is_terminal() {
  return isatty(STDOUT_FILENO) != 0;
}

bool stdin_is_terminal() {
  return isatty(STDIN_FILENO) != 0;
}

void print_error(const base::Error& error) {
  std::cerr << "jobsctl: " << error.render() << "\n";
}

void print_table(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
  if (!stdout_is_terminal()) {
    for (const auto& row : rows) {
      for (size_t k = 0; k < row.size(); ++k) {
        std::cout << (k ? "\t" : "") << row[k];
      }
      std::cout << "\n";
    }
    return;
  }
  std::vector<size_t> width(header.size());
  for (size_t k = 0; k < header.size(); ++k) {
    width[k] = header[k].size();
    for (const auto& row : rows) {
      width[k] = std::max(width[k], row[k].size());
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t k = 0; k < cells.size(); ++k) {
      out += cells[k];
      if (k + 1 < cells.size()) {
        out += std::string(width[k] - cells[k].size() + 2, ' ');
      }
    }
    while (!out.empty() && out.back() == ' ') {
      out.pop_back();
    }
    std::cout << out << "\n";
  };
  line(header);
  for (const auto& row : rows) {
    line(row);
  }
}

} // namespace jobsctl

// Filled in by its module (issue 6).
#include <doctest/doctest.h>

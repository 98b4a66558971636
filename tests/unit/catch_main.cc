// The Catch2 main shared by the library's unit tests: compiled once, linked
// into every test_<module> executable.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

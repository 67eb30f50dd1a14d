// The one translation unit that compiles Boost.Asio and Boost.Beast. Every other file includes their
// headers with BOOST_ASIO_SEPARATE_COMPILATION / BOOST_BEAST_SEPARATE_COMPILATION (set on the
// trellis_http target), so the heavy implementation is built once instead of in every file.

// Boost 1.74 with g++ 12 in C++20 mode: Asio uses std::exchange/std::move without including
// <utility> itself, so it has to come first.
#include <utility>

// With -fsanitize=address at -O2, g++ 12 reports a false -Wmaybe-uninitialized inside Beast's
// parser (boost::optional in basic_parser.hpp); the code is Boost's, not ours.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
#pragma GCC diagnostic pop

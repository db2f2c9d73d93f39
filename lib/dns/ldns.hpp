// lib/dns/ldns.hpp -- include <ldns/ldns.h> through here, never directly.
//
// Workaround (2024, ldns 1.8.3): ldns/common.h, unless __bool_true_false_are_defined is
// set, defines the macros `bool`, `false` and `true`, which breaks C++ headers included
// after it (<optional>'s operator<=> no longer compiles). <stdbool.h> sets the guard
// and, in C++, defines nothing else.
#pragma once

#include <stdbool.h>   // NOLINT(modernize-deprecated-headers): see above

#include <ldns/ldns.h>

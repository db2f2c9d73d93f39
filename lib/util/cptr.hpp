// lib/util/cptr.hpp -- one owner for every C object, the type names its free function.
//
// Only dns/, server/ and util/ include libevent or ldns headers; they alias their
// pointer types here (EventPtr, PacketPtr, ...) next to the code that uses them.
#pragma once

#include <memory>

namespace rpd::util {

template <auto Free>
struct CFree {
    template <class T>
    void operator()(T* p) const noexcept { Free(p); }
};

template <class T, auto Free>
using CPtr = std::unique_ptr<T, CFree<Free>>;

}  // namespace rpd::util

#include <fmt/core.h>

int main() {
    fmt::print("reverse-policyd {}\n", RPD_VERSION);
    return 0;
}

#include "support/json.hpp"

#include <cctype>
#include <cstdlib>

namespace rpd::test {

namespace {

const Json& null_json() {
    static const Json null{};
    return null;
}

class Reader {
public:
    explicit Reader(std::string_view text) : s_(text) {}

    std::optional<Json> document() {
        auto v = value(0);
        skip_space();
        if (!v || i_ != s_.size()) return std::nullopt;
        return v;
    }

private:
    void skip_space() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
    }
    bool eat(char c) {
        skip_space();
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    bool word(std::string_view w) {
        if (s_.substr(i_, w.size()) != w) return false;
        i_ += w.size();
        return true;
    }

    std::optional<Json> value(int depth) {
        if (depth > 64) return std::nullopt;
        skip_space();
        if (i_ >= s_.size()) return std::nullopt;
        const char c = s_[i_];
        if (c == '{') return object(depth);
        if (c == '[') return array(depth);
        if (c == '"') {
            auto s = string();
            if (!s) return std::nullopt;
            return Json{std::move(*s)};
        }
        if (word("true")) return Json{true};
        if (word("false")) return Json{false};
        if (word("null")) return Json{nullptr};
        return number();
    }

    std::optional<Json> number() {
        const std::size_t start = i_;
        while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '-' ||
                                  s_[i_] == '+' || s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E')) {
            ++i_;
        }
        if (start == i_) return std::nullopt;
        const std::string text(s_.substr(start, i_ - start));
        char* end = nullptr;
        const double d = std::strtod(text.c_str(), &end);
        if (end != text.c_str() + text.size()) return std::nullopt;
        return Json{d};
    }

    std::optional<std::string> string() {
        if (i_ >= s_.size() || s_[i_] != '"') return std::nullopt;
        ++i_;
        std::string out;
        while (i_ < s_.size()) {
            const char c = s_[i_++];
            if (c == '"') return out;
            if (static_cast<unsigned char>(c) < 0x20) return std::nullopt;   // raw control byte: not JSON
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i_ >= s_.size()) return std::nullopt;
            const char e = s_[i_++];
            switch (e) {
            case '"': out += '"'; break;
            case '\\': out += '\\'; break;
            case '/': out += '/'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u': {
                if (i_ + 4 > s_.size()) return std::nullopt;
                unsigned cp = 0;
                for (int k = 0; k < 4; ++k) {
                    const char h = s_[i_++];
                    cp <<= 4;
                    if (h >= '0' && h <= '9') cp |= static_cast<unsigned>(h - '0');
                    else if (h >= 'a' && h <= 'f') cp |= static_cast<unsigned>(h - 'a' + 10);
                    else if (h >= 'A' && h <= 'F') cp |= static_cast<unsigned>(h - 'A' + 10);
                    else return std::nullopt;
                }
                if (cp < 0x80) {
                    out += static_cast<char>(cp);
                } else if (cp < 0x800) {
                    out += static_cast<char>(0xC0 | (cp >> 6));
                    out += static_cast<char>(0x80 | (cp & 0x3F));
                } else {
                    out += static_cast<char>(0xE0 | (cp >> 12));
                    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
                    out += static_cast<char>(0x80 | (cp & 0x3F));
                }
                break;
            }
            default: return std::nullopt;
            }
        }
        return std::nullopt;
    }

    std::optional<Json> array(int depth) {
        ++i_;
        Json::Array items;
        if (eat(']')) return Json{std::move(items)};
        for (;;) {
            auto v = value(depth + 1);
            if (!v) return std::nullopt;
            items.push_back(std::move(*v));
            if (eat(']')) return Json{std::move(items)};
            if (!eat(',')) return std::nullopt;
        }
    }

    std::optional<Json> object(int depth) {
        ++i_;
        Json::Object members;
        if (eat('}')) return Json{std::move(members)};
        for (;;) {
            skip_space();
            auto key = string();
            if (!key || !eat(':')) return std::nullopt;
            auto v = value(depth + 1);
            if (!v) return std::nullopt;
            members[std::move(*key)] = std::move(*v);
            if (eat('}')) return Json{std::move(members)};
            if (!eat(',')) return std::nullopt;
        }
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

}  // namespace

const Json& Json::operator[](const std::string& key) const {
    const auto* o = std::get_if<Object>(&value);
    if (o == nullptr) return null_json();
    const auto it = o->find(key);
    return it == o->end() ? null_json() : it->second;
}

const Json& Json::operator[](std::size_t i) const {
    const auto* a = std::get_if<Array>(&value);
    return a == nullptr || i >= a->size() ? null_json() : (*a)[i];
}

std::size_t Json::size() const noexcept {
    if (const auto* a = std::get_if<Array>(&value)) return a->size();
    if (const auto* o = std::get_if<Object>(&value)) return o->size();
    return 0;
}

std::string Json::str() const {
    const auto* s = std::get_if<std::string>(&value);
    return s == nullptr ? std::string() : *s;
}

double Json::number() const noexcept {
    const auto* d = std::get_if<double>(&value);
    return d == nullptr ? 0.0 : *d;
}

bool Json::boolean() const noexcept {
    const auto* b = std::get_if<bool>(&value);
    return b != nullptr && *b;
}

std::optional<Json> parse_json(std::string_view text) { return Reader(text).document(); }

}  // namespace rpd::test

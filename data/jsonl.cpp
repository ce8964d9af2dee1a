// JSON string escaping and a small recursive-descent reader for one object per line (strict RFC 8259
// syntax: literals, numbers, nesting up to 64 levels; strings decoded to UTF-8).
#include "data/jsonl.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace weft::data {

std::string json_escape_string(const std::string& s) {
  std::string o;
  o.reserve(s.size() + 8);
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        o += "\\\"";
        break;
      case '\\':
        o += "\\\\";
        break;
      case '\n':
        o += "\\n";
        break;
      case '\r':
        o += "\\r";
        break;
      case '\t':
        o += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          o += buf;
        } else {
          o += static_cast<char>(c);
        }
    }
  }
  return o;
}

namespace {

struct ParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Reader {
 public:
  explicit Reader(const std::string& s) : s_(s) {}
  [[noreturn]] void fail(const std::string& what) const {
    throw ParseError(what + " at column " + std::to_string(i_ + 1));
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r' || s_[i_] == '\n')) ++i_;
  }
  char peek() {
    ws();
    return i_ < s_.size() ? s_[i_] : '\0';
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  static void put_utf8(std::string& o, uint32_t cp) {
    if (cp < 0x80)
      o += static_cast<char>(cp);
    else if (cp < 0x800) {
      o += static_cast<char>(0xC0 | (cp >> 6));
      o += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      o += static_cast<char>(0xE0 | (cp >> 12));
      o += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      o += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      o += static_cast<char>(0xF0 | (cp >> 18));
      o += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      o += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      o += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  uint32_t hex4() {
    if (i_ + 4 > s_.size()) fail("truncated \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = s_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= c - '0';
      else if (c >= 'a' && c <= 'f')
        v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        v |= c - 'A' + 10;
      else
        fail("invalid \\u escape");
    }
    return v;
  }
  std::string string() {
    expect('"');
    std::string o;
    while (true) {
      if (i_ >= s_.size()) fail("unterminated string");
      char c = s_[i_++];
      if (c == '"') return o;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
      if (c != '\\') {
        o += c;
        continue;
      }
      if (i_ >= s_.size()) fail("unterminated escape");
      char e = s_[i_++];
      switch (e) {
        case '"':
          o += '"';
          break;
        case '\\':
          o += '\\';
          break;
        case '/':
          o += '/';
          break;
        case 'b':
          o += '\b';
          break;
        case 'f':
          o += '\f';
          break;
        case 'n':
          o += '\n';
          break;
        case 'r':
          o += '\r';
          break;
        case 't':
          o += '\t';
          break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00) {  // high surrogate: a low one must follow
            if (i_ + 2 > s_.size() || s_[i_] != '\\' || s_[i_ + 1] != 'u') fail("unpaired surrogate");
            i_ += 2;
            uint32_t lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail("invalid low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            fail("unpaired surrogate");
          }
          put_utf8(o, cp);
          break;
        }
        default:
          fail(std::string("invalid escape \\") + e);
      }
    }
  }
  void skip_value(int depth = 0) {
    if (depth > 64) fail("nesting too deep");
    char c = peek();
    if (c == '"') {
      string();
    } else if (c == '{' || c == '[') {
      char close = c == '{' ? '}' : ']';
      ++i_;
      if (peek() == close) {
        ++i_;
        return;
      }
      while (true) {
        if (c == '{') {
          string();
          expect(':');
        }
        skip_value(depth + 1);
        if (peek() == ',') {
          ++i_;
          continue;
        }
        expect(close);
        return;
      }
    } else if (c == 't' || c == 'f' || c == 'n') {
      for (const char* lit : {"true", "false", "null"}) {
        const size_t n = std::strlen(lit);
        if (s_.compare(i_, n, lit) == 0) {
          i_ += n;
          return;
        }
      }
      fail("invalid literal");
    } else {
      number();
    }
  }
  // -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  void number() {
    auto digit = [&] { return i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9'; };
    auto digits = [&] {
      if (!digit()) fail("invalid number");
      while (digit()) ++i_;
    };
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    if (i_ < s_.size() && s_[i_] == '0')
      ++i_;
    else
      digits();
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      digits();
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      digits();
    }
  }
  bool at_end() {
    ws();
    return i_ == s_.size();
  }
  size_t pos() const { return i_; }

 private:
  const std::string& s_;
  size_t i_ = 0;
};

}  // namespace

namespace {

// Parses `line` as one JSON object and calls read_field(reader, key) at the value of `key` (which must
// consume it), skipping every other value. Returns "" or the problem, as json_string_field documents.
template <class ReadField>
std::string read_object_field(const std::string& line, const std::string& key, ReadField read_field) {
  Reader r(line);
  bool found = false;
  try {
    r.expect('{');
    if (r.peek() != '}') {
      while (true) {
        std::string k = r.string();
        r.expect(':');
        if (k == key) {
          read_field(r);
          found = true;
        } else {
          r.skip_value();
        }
        if (r.peek() == ',') {
          r.expect(',');
          continue;
        }
        break;
      }
    }
    r.expect('}');
    if (!r.at_end()) r.fail("trailing characters after the object");
  } catch (const ParseError& e) {
    return e.what();
  }
  return found ? "" : "missing field '" + key + "'";
}

}  // namespace

std::string json_string_field(const std::string& line, const std::string& key, std::string& out) {
  return read_object_field(line, key, [&](Reader& r) {
    if (r.peek() != '"') r.fail("field '" + key + "' is not a string");
    out = r.string();
  });
}

std::string json_number_field(const std::string& line, const std::string& key, double& out) {
  return read_object_field(line, key, [&](Reader& r) {
    const char c = r.peek();
    if (c == 'n') {
      r.skip_value();  // "null" (anything else starting with n fails there)
      out = std::nan("");
      return;
    }
    if (c != '-' && (c < '0' || c > '9')) r.fail("field '" + key + "' is not a number");
    const size_t begin = r.pos();
    r.number();
    out = std::strtod(line.c_str() + begin, nullptr);
  });
}

std::string json_string_array_field(const std::string& line, const std::string& key, std::vector<std::string>& out) {
  return read_object_field(line, key, [&](Reader& r) {
    if (r.peek() != '[') r.fail("field '" + key + "' is not an array of strings");
    r.expect('[');
    out.clear();
    if (r.peek() == ']') return r.expect(']');
    while (true) {
      if (r.peek() != '"') r.fail("field '" + key + "' is not an array of strings");
      out.push_back(r.string());
      if (r.peek() != ',') break;
      r.expect(',');
    }
    r.expect(']');
  });
}

}  // namespace weft::data

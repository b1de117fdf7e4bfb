// RFC 3339 timestamps in the form Go's time.RFC3339Nano writes, so Go and C++
// services produce identical envelope bytes.

#include <charconv>
#include <cstdio>

#include "codec/json_writer.h"
#include "evbus/envelope.h"

namespace evbus {
namespace {

using std::chrono::nanoseconds;

// Writes `value` as exactly `width` digits at p; returns the end.
char* PutDigits(char* p, int64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return p + width;
}

// Parses exactly `width` digits at text[pos]; advances pos.
bool ParseDigits(std::string_view text, size_t& pos, int width, int& value) {
  if (pos + static_cast<size_t>(width) > text.size()) return false;
  value = 0;
  for (int i = 0; i < width; ++i) {
    char c = text[pos + static_cast<size_t>(i)];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += static_cast<size_t>(width);
  return true;
}

bool Expect(std::string_view text, size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

Status Bad(std::string_view text, std::string_view why) {
  std::string m = "timestamp: \"";
  m.append(text.substr(0, 64));
  m += "\" is not RFC 3339 (";
  m.append(why);
  m += ")";
  return InvalidArgument(std::move(m));
}

}  // namespace

Timestamp Timestamp::Now() {
  return Timestamp{std::chrono::time_point_cast<nanoseconds>(std::chrono::system_clock::now()), 0};
}

namespace codec {

void AppendRfc3339(std::string& out, const Timestamp& ts) {
  using namespace std::chrono;
  const auto local = ts.time + minutes(ts.utc_offset_minutes);
  const auto day = floor<days>(local);
  const year_month_day ymd{day};
  const auto since_midnight = local - day;
  const int64_t total_ns = since_midnight.count();
  const int64_t secs = total_ns / 1'000'000'000;
  int64_t frac = total_ns % 1'000'000'000;

  // Into a stack buffer and appended once: the longest form,
  // 2006-01-02T15:04:05.999999999+07:00, is 35 characters.
  char buf[40];
  char* p = PutDigits(buf, static_cast<int>(ymd.year()), 4);
  *p++ = '-';
  p = PutDigits(p, static_cast<unsigned>(ymd.month()), 2);
  *p++ = '-';
  p = PutDigits(p, static_cast<unsigned>(ymd.day()), 2);
  *p++ = 'T';
  p = PutDigits(p, secs / 3600, 2);
  *p++ = ':';
  p = PutDigits(p, secs / 60 % 60, 2);
  *p++ = ':';
  p = PutDigits(p, secs % 60, 2);
  if (frac != 0) {  // Go trims trailing zeros and drops an all-zero fraction
    int width = 9;
    while (frac % 10 == 0) {
      frac /= 10;
      --width;
    }
    *p++ = '.';
    p = PutDigits(p, frac, width);
  }
  if (ts.utc_offset_minutes == 0) {
    *p++ = 'Z';
  } else {
    int off = ts.utc_offset_minutes;
    *p++ = off < 0 ? '-' : '+';
    if (off < 0) off = -off;
    p = PutDigits(p, off / 60, 2);
    *p++ = ':';
    p = PutDigits(p, off % 60, 2);
  }
  out.append(buf, static_cast<size_t>(p - buf));
}

}  // namespace codec

std::string FormatRfc3339(const Timestamp& ts) {
  std::string out;
  codec::AppendRfc3339(out, ts);
  return out;
}

Result<Timestamp> ParseRfc3339(std::string_view text) {
  using namespace std::chrono;
  size_t pos = 0;
  int y, mo, d, h, mi, s;
  if (!ParseDigits(text, pos, 4, y) || !Expect(text, pos, '-') || !ParseDigits(text, pos, 2, mo) ||
      !Expect(text, pos, '-') || !ParseDigits(text, pos, 2, d)) {
    return Bad(text, "expected YYYY-MM-DD");
  }
  if (pos >= text.size() || (text[pos] != 'T' && text[pos] != 't')) {
    return Bad(text, "expected 'T' after the date");
  }
  ++pos;
  if (!ParseDigits(text, pos, 2, h) || !Expect(text, pos, ':') || !ParseDigits(text, pos, 2, mi) ||
      !Expect(text, pos, ':') || !ParseDigits(text, pos, 2, s)) {
    return Bad(text, "expected hh:mm:ss");
  }
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                           day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return Bad(text, "no such date");
  if (h > 23 || mi > 59 || s > 60) return Bad(text, "time out of range");
  if (s == 60) s = 59;  // leap second: clamp as Go does not accept it either way

  int64_t frac_ns = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 9) {
        frac_ns = frac_ns * 10 + (text[pos] - '0');
      }
      ++digits;
      ++pos;
    }
    if (digits == 0) return Bad(text, "empty fraction");
    for (int i = digits; i < 9; ++i) frac_ns *= 10;
  }

  int offset_minutes = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const bool negative = text[pos] == '-';
    ++pos;
    int oh, om;
    if (!ParseDigits(text, pos, 2, oh) || !Expect(text, pos, ':') ||
        !ParseDigits(text, pos, 2, om) || oh > 23 || om > 59) {
      return Bad(text, "bad UTC offset");
    }
    offset_minutes = (oh * 60 + om) * (negative ? -1 : 1);
  } else {
    return Bad(text, "missing 'Z' or UTC offset");
  }
  if (pos != text.size()) return Bad(text, "trailing characters");

  const auto local = sys_days{ymd} + hours{h} + minutes{mi} + seconds{s} + nanoseconds{frac_ns};
  return Timestamp{local - minutes{offset_minutes}, offset_minutes};
}

}  // namespace evbus

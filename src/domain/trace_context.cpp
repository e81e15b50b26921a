#include "domain/trace_context.h"

namespace parley {

namespace {

constexpr char kHex[] = "0123456789abcdef";

bool lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int hex_value(char c) {
  return c <= '9' ? c - '0' : c - 'a' + 10;
}

// Copies @p n hex chars from @p s into @p out; false unless all are lowercase hex and not all
// are '0'.
template <size_t N>
bool take_id(std::string_view s, std::array<char, N>& out) {
  bool nonzero = false;
  for (size_t i = 0; i < N; ++i) {
    if (!lower_hex(s[i])) return false;
    nonzero |= s[i] != '0';
    out[i] = s[i];
  }
  return nonzero;
}

template <size_t N>
void put_hex(uint64_t v, std::array<char, N>& out, size_t at) {
  for (size_t i = 0; i < 16; ++i) out[at + i] = kHex[(v >> (60 - 4 * i)) & 0xf];
}

}  // namespace

std::optional<TraceContext> parse_traceparent(std::string_view h) {
  // version "-" trace-id "-" parent-id "-" trace-flags
  if (h.size() != TraceContext::kHeaderChars) return std::nullopt;
  if (h[0] != '0' || h[1] != '0' || h[2] != '-' || h[35] != '-' || h[52] != '-') {
    return std::nullopt;
  }
  TraceContext t;
  if (!take_id(h.substr(3, 32), t.trace_id)) return std::nullopt;
  if (!take_id(h.substr(36, 16), t.parent_id)) return std::nullopt;
  if (!lower_hex(h[53]) || !lower_hex(h[54])) return std::nullopt;
  t.flags = static_cast<uint8_t>(hex_value(h[53]) * 16 + hex_value(h[54]));
  t.has_parent = true;
  return t;
}

std::optional<TraceContext> parse_propagated(std::string_view header) {
  auto t = parse_traceparent(header);
  if (!t) return std::nullopt;
  t->span_id = t->parent_id;
  t->has_parent = false;
  t->parent_id = {};
  return t;
}

TraceContext start_span(const std::optional<TraceContext>& caller, uint64_t r1, uint64_t r2,
                        uint64_t r3) {
  TraceContext t;
  if (caller) {
    t = *caller;
  } else {
    if (r1 == 0 && r2 == 0) r2 = 1;
    put_hex(r1, t.trace_id, 0);
    put_hex(r2, t.trace_id, 16);
  }
  if (r3 == 0) r3 = 1;
  put_hex(r3, t.span_id, 0);
  return t;
}

std::array<char, TraceContext::kHeaderChars> TraceContext::header() const {
  std::array<char, kHeaderChars> h{};
  h[0] = '0';
  h[1] = '0';
  h[2] = '-';
  for (size_t i = 0; i < kTraceIdChars; ++i) h[3 + i] = trace_id[i];
  h[35] = '-';
  for (size_t i = 0; i < kSpanIdChars; ++i) h[36 + i] = span_id[i];
  h[52] = '-';
  h[53] = kHex[flags >> 4];
  h[54] = kHex[flags & 0xf];
  return h;
}

}  // namespace parley

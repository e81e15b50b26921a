#include "cli/bench/frame.h"

namespace parley::bench {

namespace {
// A field of the wrong type reads as absent (its default), as the protocol's unknown fields do.
template <typename T>
void take(simdjson::simdjson_result<T>&& r, T& out) {
  if (std::move(r).get(out) != simdjson::SUCCESS) out = T{};
}
}  // namespace

bool FrameParser::parse(std::string_view raw, Frame& out) {
  out = Frame{};
  // simdjson reads up to SIMDJSON_PADDING bytes past the end: copy into a buffer that has them.
  padded_.assign(raw);
  padded_.reserve(raw.size() + simdjson::SIMDJSON_PADDING);
  simdjson::padded_string_view view(padded_.data(), raw.size(), padded_.capacity());
  simdjson::ondemand::document doc;
  if (parser_.iterate(view).get(doc)) return false;
  simdjson::ondemand::object obj;
  if (doc.get_object().get(obj)) return false;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return false;
    auto value = field.value();
    if (key == "type") {
      if (value.get_string().get(out.type)) return false;
    } else if (key == "id") {
      take(value.get_string(), out.id);
    } else if (key == "ok") {
      take(value.get_bool(), out.ok);
    } else if (key == "room") {
      take(value.get_string(), out.room);
    } else if (key == "text") {
      take(value.get_string(), out.text);
    } else if (key == "seq") {
      take(value.get_int64(), out.seq);
    } else if (key == "head") {
      take(value.get_int64(), out.head);
    } else if (key == "error") {
      simdjson::ondemand::object err;
      if (!value.get_object().get(err)) {
        for (auto ef : err) {
          std::string_view ek;
          if (!ef.unescaped_key().get(ek) && ek == "code") {
            take(ef.value().get_string(), out.error_code);
          }
        }
      }
    } else if (key == "messages") {
      simdjson::ondemand::array arr;
      if (!value.get_array().get(arr)) {
        size_t n = 0;
        if (!arr.count_elements().get(n)) out.messages = n;
      }
    }
  }
  return true;
}

}  // namespace parley::bench

#include "adapters/ws/ws_frames.h"

#include <simdjson.h>

#include <cstring>

namespace parley::ws {

namespace {

bool valid_close_code(uint16_t code) {
  // RFC 6455 7.4: the codes an endpoint may send, plus the registered and private ranges.
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

}  // namespace

bool valid_utf8(std::string_view s) {
  return simdjson::validate_utf8(s.data(), s.size());
}

size_t encode_header(Opcode op, uint64_t len, uint8_t* out) {
  out[0] = static_cast<uint8_t>(0x80 | static_cast<uint8_t>(op));
  if (len < 126) {
    out[1] = static_cast<uint8_t>(len);
    return 2;
  }
  if (len <= 0xffff) {
    out[1] = 126;
    out[2] = static_cast<uint8_t>(len >> 8);
    out[3] = static_cast<uint8_t>(len & 0xff);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<uint8_t>((len >> (8 * (7 - i))) & 0xff);
  return 10;
}

std::string close_payload(uint16_t code, std::string_view reason) {
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xff));
  payload.append(reason.substr(0, 123));
  return payload;
}

size_t FrameParser::parse(std::string_view data, FrameHandler& handler) {
  size_t pos = 0;
  auto fail = [&](uint16_t code, std::string_view why) {
    done_ = true;
    handler.on_error(code, why);
    return data.size();
  };
  while (!done_) {
    const auto* p = reinterpret_cast<const uint8_t*>(data.data()) + pos;
    size_t avail = data.size() - pos;
    if (avail < 2) break;
    bool fin = p[0] & 0x80;
    uint8_t rsv = p[0] & 0x70;
    auto op = static_cast<Opcode>(p[0] & 0x0f);
    bool masked = p[1] & 0x80;
    uint64_t len = p[1] & 0x7f;
    size_t header = 2;
    if (len == 126) {
      if (avail < 4) break;
      len = (uint64_t{p[2]} << 8) | p[3];
      header = 4;
      // RFC 6455 5.2: "the minimal number of bytes MUST be used to encode the length".
      if (len < 126) return fail(1002, "non-minimal length encoding");
    } else if (len == 127) {
      if (avail < 10) break;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
      header = 10;
      if (len >> 63) return fail(1002, "length with its most significant bit set");
      if (len <= 0xffff) return fail(1002, "non-minimal length encoding");
    }
    if (rsv) return fail(1002, "reserved bits set (no extension was negotiated)");
    if (!masked) return fail(1002, "client frames must be masked");
    bool control = static_cast<uint8_t>(op) & 0x08;
    // RFC 6455 5.2: 0x3-0x7 and 0xB-0xF are reserved; without a negotiated extension that
    // defines them, a frame that uses one fails the connection.
    if (!control && op != Opcode::continuation && op != Opcode::text && op != Opcode::binary) {
      return fail(1002, "reserved opcode");
    }
    if (control && op != Opcode::close && op != Opcode::ping && op != Opcode::pong) {
      return fail(1002, "reserved control opcode");
    }
    if (control && (!fin || len > 125)) return fail(1002, "bad control frame");
    // Refuse an oversized message from its header, before buffering its payload.
    // (Written so that no sum can overflow: a 64-bit length is attacker-controlled.)
    if (!control && (len > max_message_ || message_.size() > max_message_ - len)) {
      return fail(1009, "message too big");
    }
    header += 4;  // the mask key
    if (avail < header || avail - header < len) break;
    const uint8_t* key = p + header - 4;
    std::string_view raw(reinterpret_cast<const char*>(p + header), len);
    pos += header + len;

    auto unmask_into = [&](std::string& out) {
      size_t base = out.size();
      out.resize(base + raw.size());
      for (size_t i = 0; i < raw.size(); ++i)
        out[base + i] = static_cast<char>(raw[i] ^ key[i & 3]);
    };

    if (control) {
      std::string payload;
      unmask_into(payload);
      if (op == Opcode::ping) {
        handler.on_ping(payload);
      } else if (op == Opcode::close) {
        if (payload.size() == 1) return fail(1002, "bad close frame");
        uint16_t code = 1005;
        if (payload.size() >= 2) {
          code = static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) |
                                       static_cast<uint8_t>(payload[1]));
          if (!valid_close_code(code)) return fail(1002, "bad close code");
          // RFC 6455 5.5.1: the reason is UTF-8; a close frame is the last thing we parse, so
          // checking it here costs nothing on the message path.
          if (!valid_utf8(std::string_view(payload).substr(2))) {
            return fail(1007, "close reason is not valid UTF-8");
          }
        }
        done_ = true;
        handler.on_close(code);
        return pos;
      }
      continue;  // pong: nothing to do
    }
    if (op == Opcode::continuation) {
      if (!in_message_) return fail(1002, "continuation without a message");
    } else {
      if (in_message_) return fail(1002, "new message inside a fragmented one");
      in_message_ = true;
      message_is_text_ = op == Opcode::text;
      message_.clear();
    }
    unmask_into(message_);
    if (!fin) continue;
    in_message_ = false;
    if (!message_is_text_) {
      message_.clear();
      handler.on_binary();
      continue;
    }
    if (!valid_utf8(message_)) return fail(1007, "text is not valid UTF-8");
    handler.on_text(message_);
    message_.clear();
  }
  return pos;
}

}  // namespace parley::ws

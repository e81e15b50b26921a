#pragma once
// Helpers shared by the consumers of this folder (not part of the adapter's API).
#include <librdkafka/rdkafka.h>

#include <string_view>

#include "adapters/kafka/consumed.h"
#include "adapters/kafka/record_mac.h"

namespace parley::kafka_detail {

// Whether @p m, read from @p topic, carries a valid MAC of @p mac over @p c's key and value
// (and its traceparent header, if it has one: then @p c's trace is set); counted and logged if
// not. No key: nothing is authentic (and nothing is counted).
inline bool authentic(const rd_kafka_message_t* m, const RecordMac* mac, std::string_view topic,
                      Consumed& c) {
  if (mac == nullptr) return false;
  rd_kafka_headers_t* headers = nullptr;
  const void* tag = nullptr;
  size_t size = 0;
  if (rd_kafka_message_headers(m, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      rd_kafka_header_get_last(headers, RecordMac::kHeader, &tag, &size) !=
          RD_KAFKA_RESP_ERR_NO_ERROR ||
      tag == nullptr) {
    note_rejected(topic, c.partition, c.offset, "no MAC header");
    return false;
  }
  // A trace is 55 bytes or it is not one; its bytes are read only once the MAC vouches for them.
  const void* trace = nullptr;
  size_t trace_size = 0;
  std::string_view traceparent;
  if (rd_kafka_header_get_last(headers, RecordMac::kTraceHeader, &trace, &trace_size) ==
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (trace == nullptr || trace_size != TraceContext::kHeaderChars) {
      note_rejected(topic, c.partition, c.offset, "malformed traceparent header");
      return false;
    }
    traceparent = {static_cast<const char*>(trace), trace_size};
  }
  if (!mac->verify(topic, c.key, c.value, {static_cast<const char*>(tag), size}, traceparent)) {
    note_rejected(topic, c.partition, c.offset, "MAC does not verify");
    return false;
  }
  if (!traceparent.empty()) {
    if (auto t = parse_propagated(traceparent)) c.trace = *t;
  }
  return true;
}

// One record as the consumers hand it over, its MAC checked (Consumed::authentic).
inline Consumed to_consumed(const rd_kafka_message_t* m, const RecordMac* mac,
                            std::string_view topic) {
  Consumed c;
  c.partition = m->partition;
  c.offset = m->offset;
  rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  c.timestamp_ms = rd_kafka_message_timestamp(m, &type);
  c.log_append_time = type == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME;
  if (m->key != nullptr) c.key.assign(static_cast<const char*>(m->key), m->key_len);
  if (m->payload != nullptr) c.value.assign(static_cast<const char*>(m->payload), m->len);
  c.authentic = authentic(m, mac, topic, c);
  return c;
}

}  // namespace parley::kafka_detail

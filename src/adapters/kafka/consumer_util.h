#pragma once
// Helpers shared by the consumers of this folder (not part of the adapter's API).
#include <librdkafka/rdkafka.h>

#include "adapters/kafka/consumed.h"

namespace parley::kafka_detail {

inline Consumed to_consumed(const rd_kafka_message_t* m) {
  Consumed c;
  c.partition = m->partition;
  c.offset = m->offset;
  rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  c.timestamp_ms = rd_kafka_message_timestamp(m, &type);
  c.log_append_time = type == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME;
  if (m->key != nullptr) c.key.assign(static_cast<const char*>(m->key), m->key_len);
  if (m->payload != nullptr) c.value.assign(static_cast<const char*>(m->payload), m->len);
  return c;
}

}  // namespace parley::kafka_detail

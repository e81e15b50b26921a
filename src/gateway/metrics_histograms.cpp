// The histograms and per-partition gauges of /metrics (metrics_text), in Prometheus text.
#include <string>

#include "app/metrics.h"
#include "gateway/http_api.h"

namespace parley {

namespace {

void lag_gauges(std::string& out, std::string_view name, std::string_view help,
                const std::array<std::atomic<int64_t>, Metrics::kLagPartitions>& lags) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ");
  out.append(name).append(" gauge\n");
  for (size_t p = 0; p < lags.size(); ++p) {
    int64_t v = lags[p].load(std::memory_order_relaxed);
    if (v < 0) continue;  // not read by this process
    out.append(name).append("{partition=\"").append(std::to_string(p)).append("\"} ");
    out.append(std::to_string(v)).push_back('\n');
  }
}

}  // namespace

void append_histograms(std::string& out) {
  const Metrics& m = Metrics::global();
  histogram_header(out, "parley_command_duration_seconds",
                   "Commands from their frame decoded to their result sent, by op.");
  for (size_t i = 0; i < Metrics::kOps.size(); ++i) {
    std::string label = "op=\"" + std::string(Metrics::kOps[i]) + "\"";
    m.command_seconds[i].render(out, "parley_command_duration_seconds", label);
  }
  histogram_header(out, "parley_send_fanout_seconds",
                   "Messages from their log timestamp (ms resolution) to their frame queued on "
                   "this process's sockets, once per worker that had a recipient.");
  m.send_fanout_seconds.render(out, "parley_send_fanout_seconds");
  histogram_header(out, "parley_storage_commit_seconds",
                   "Durable writes: SQLite COMMIT of a group commit; in the persister, "
                   "PostgreSQL's batch transaction.");
  m.storage_commit_seconds.render(out, "parley_storage_commit_seconds");
  histogram_header(out, "parley_kafka_produce_ack_seconds",
                   "Cluster: Kafka records from produce to their successful delivery report.");
  m.kafka_produce_ack_seconds.render(out, "parley_kafka_produce_ack_seconds");
  histogram_header(out, "parley_send_queue_bytes",
                   "Bytes queued on a connection when a gather write of it starts.");
  m.send_queue_bytes.render(out, "parley_send_queue_bytes");
  lag_gauges(out, "parley_fold_lag_records",
             "Cluster: records of a log partition past this instance's fold (high watermark "
             "minus position).",
             m.fold_lag_records);
  lag_gauges(out, "parley_persister_lag_records",
             "Cluster: records of a log partition past what this persister stored.",
             m.persister_lag_records);
}

}  // namespace parley

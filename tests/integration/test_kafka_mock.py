"""`parley kafka-mock`: librdkafka's mock cluster in its own process, for demos and fast adapter
tests without Java. It prints its bootstrap, writes it to --bootstrap-file, has the default
topics up front, and stops on SIGTERM."""
import json
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from conftest import PARLEY_BIN


def test_kafka_mock_prints_its_bootstrap_and_has_the_topics_up_front():
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "bootstrap"
        proc = subprocess.Popen([PARLEY_BIN, "kafka-mock", "--brokers", "3", "--partitions", "8",
                                 "--topic-prefix", "demo-", "--bootstrap-file", str(file)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline().strip()
            brokers = line.split(",")
            assert len(brokers) == 3 and all(b.startswith("127.0.0.1:") for b in brokers), line
            assert file.read_text().strip() == line
            meta = json.loads(subprocess.run(["kcat", "-b", line, "-L", "-J"], capture_output=True,
                                             text=True, timeout=30, check=True).stdout)
            topics = {t["topic"]: len(t["partitions"]) for t in meta["topics"]}
            for name in ("messages", "results", "events", "dlq"):
                assert f"demo-parley.{name}" in topics, topics
            assert topics["demo-parley.messages"] == 8, topics
            assert len(meta["brokers"]) == 3, meta["brokers"]
        finally:
            proc.send_signal(signal.SIGTERM)
            start = time.monotonic()
            code = proc.wait(timeout=15)
        assert code == 0, proc.stderr.read()
        assert time.monotonic() - start < 10


def test_kafka_mock_refuses_nonsense_flags():
    r = subprocess.run([PARLEY_BIN, "kafka-mock", "--brokers", "0"], capture_output=True, text=True,
                       timeout=15)
    assert r.returncode != 0

"""The public verification's rate limit per client address, and who the client is behind a
trusted proxy."""
import pytest

from services.assessment import throttle


def test_a_burst_then_the_rate_per_address():
    limit = throttle.PerAddress(per_minute=60, burst=3)
    assert [limit.take("10.0.0.1", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limit.take("10.0.0.1", 0.0) == pytest.approx(1.0)  # one a second
    assert limit.take("10.0.0.2", 0.0) == 0.0  # another address has its own bucket
    assert limit.take("10.0.0.1", 1.0) == 0.0


def test_memory_stays_bounded_by_forgetting_refilled_buckets():
    limit = throttle.PerAddress(per_minute=60, burst=2, max_tracked=10)
    for n in range(10):
        limit.take(f"10.0.0.{n}", 0.0)
    limit.take("10.0.1.1", 100.0)
    assert len(limit._buckets) == 1


def test_the_client_behind_a_trusted_proxy_is_the_last_untrusted_hop():
    proxies = throttle.trusted_networks("10.1.0.0/16, 127.0.0.1")
    assert throttle.client_address("203.0.113.9", "1.2.3.4", proxies) == "203.0.113.9"
    assert throttle.client_address("10.1.2.3", "1.2.3.4, 198.51.100.7", proxies) == \
        "198.51.100.7"  # 1.2.3.4 was written by the client: not believed
    assert throttle.client_address("127.0.0.1", "198.51.100.7, 10.1.9.9", proxies) == \
        "198.51.100.7"
    assert throttle.client_address("10.1.2.3", "", proxies) == "10.1.2.3"
    assert throttle.client_address("10.1.2.3", "1.2.3.4", ()) == "10.1.2.3"
    with pytest.raises(throttle.SettingError):
        throttle.trusted_networks("10.0.0.0/33")
    with pytest.raises(throttle.SettingError):
        throttle.PerAddress(per_minute=0, burst=1)

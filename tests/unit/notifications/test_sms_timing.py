"""SMS text rules (GSM-7, parts, folding, numbers, gateway answers) and the timing rules
(backoff with jitter, rate limits, digest days, summary weeks): pure, no network."""
from datetime import date, datetime, timedelta, timezone

import pytest

from services.notifications import sms, timing

VN = timezone(timedelta(hours=7))


# -- SMS ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, folded", [
    ("Chúc mừng Nguyễn Thị Hoà", "Chuc mung Nguyen Thi Hoa"),
    ("Đỗ Văn Ưng, Lê Thị Ánh, Hồ Quỳnh Hương", "Do Van Ung, Le Thi Anh, Ho Quynh Huong"),
    ("ăâêôơưđ ĂÂÊÔƠƯĐ", "aaeooud AAEOOUD"),
    ("và é à", "va e a"),                     # GSM-7 has à and é, but a name is folded whole
    ("“Công dân học tập” — 2025…", '"Cong dan hoc tap" - 2025...'),
    ("plain ASCII {ok} [yes] ~ | €", "plain ASCII {ok} [yes] ~ | €"),
    ("emoji 😀 and 中文", "emoji ? and ??"),
])
def test_fold_to_gsm7(text, folded):
    assert sms.fold_to_gsm7(text) == folded
    assert sms.is_gsm7(sms.fold_to_gsm7(text))


@pytest.mark.parametrize("text, encoding, length, parts", [
    ("a" * 160, sms.GSM7, 160, 1),
    ("a" * 161, sms.GSM7, 161, 2),
    ("a" * 306, sms.GSM7, 306, 2),
    ("a" * 307, sms.GSM7, 307, 3),
    ("{" * 80, sms.GSM7, 160, 1),          # extension characters count two
    ("{" * 81, sms.GSM7, 162, 2),
    ("ư" * 70, sms.UCS2, 70, 1),
    ("ư" * 71, sms.UCS2, 71, 2),
    ("😀" * 35, sms.UCS2, 70, 1),           # outside the BMP: two UTF-16 units
])
def test_length_and_parts(text, encoding, length, parts):
    assert sms.encoding(text) == encoding
    assert sms.length(text) == length
    assert sms.parts(text) == parts


def test_fit_keeps_a_short_message_and_collapses_whitespace():
    assert sms.fit("Chúc  mừng\nHoa", gsm7_only=True) == "Chuc mung Hoa"
    assert sms.fit("Chúc  mừng\nHoa", gsm7_only=False) == "Chúc mừng Hoa"


@pytest.mark.parametrize("gsm7_only, max_parts, limit", [
    (True, 1, 160), (True, 2, 306), (True, 3, 459), (False, 1, 70), (False, 2, 134),
])
def test_fit_cuts_to_the_parts_allowed_with_an_ellipsis(gsm7_only, max_parts, limit):
    text = "Hội Khuyến học chúc mừng Nguyễn Thị Hoa đạt danh hiệu Công dân học tập. " * 10
    fitted = sms.fit(text, gsm7_only=gsm7_only, max_parts=max_parts)
    assert sms.length(fitted) <= limit
    assert sms.parts(fitted) <= max_parts
    assert sms.length(fitted) > limit - 10   # not cut more than needed
    assert fitted.endswith("..." if gsm7_only else "…")
    assert sms.is_gsm7(fitted) == gsm7_only


def test_fit_never_splits_an_extension_character_over_the_limit():
    fitted = sms.fit("a" * 155 + "{{{{{{", max_parts=1)
    assert sms.length(fitted) <= 160


@pytest.mark.parametrize("given, e164", [
    ("0912345678", "+84912345678"), ("091 234 5678", "+84912345678"),
    ("091.234.5678", "+84912345678"), ("84912345678", "+84912345678"),
    ("+84912345678", "+84912345678"), ("0084912345678", "+84912345678"),
    ("+12025550123", "+12025550123"), ("12345", None), ("phone", None), (None, None),
    ("", None), ("912345678", None),
])
def test_normalise_phone(given, e164):
    assert sms.normalise_phone(given) == e164


def test_mask_phone():
    assert sms.mask_phone("+84912345678") == "***78"
    assert sms.mask_phone(None) == ""


@pytest.mark.parametrize("status, kind", [
    (200, None), (201, None), (202, None), (204, None),
    (400, sms.PERMANENT), (404, sms.PERMANENT), (422, sms.PERMANENT),
    (401, sms.TRANSIENT), (403, sms.TRANSIENT), (408, sms.TRANSIENT), (429, sms.TRANSIENT),
    (500, sms.TRANSIENT), (502, sms.TRANSIENT), (503, sms.TRANSIENT), (301, sms.PERMANENT),
])
def test_classify_http_status(status, kind):
    assert sms.classify_http_status(status) == kind


# -- backoff ---------------------------------------------------------------------------------------
def test_backoff_doubles_with_jitter_in_the_upper_half_and_is_capped():
    low = [timing.backoff_delay(n, 30, 3600, lambda: 0.0) for n in range(1, 10)]
    high = [timing.backoff_delay(n, 30, 3600, lambda: 0.999999) for n in range(1, 10)]
    assert low[:4] == [15, 30, 60, 120]
    assert [round(h) for h in high[:4]] == [30, 60, 120, 240]
    assert max(high) <= 3600 and low[-1] == 1800   # capped at RETRY_MAX_SECONDS
    assert timing.retry_plan(4, 0.2, 1) == [(0.1, 0.2), (0.2, 0.4), (0.4, 0.8)]


def test_jitter_spreads_retries():
    import random
    rng = random.Random(7)
    delays = {round(timing.backoff_delay(3, 30, 3600, rng.random), 3) for _ in range(50)}
    assert len(delays) > 40 and all(60 <= d <= 120 for d in delays)


# -- rate limits -------------------------------------------------------------------------------------
def test_token_bucket_allows_bursts_then_spaces_sends():
    bucket = timing.TokenBucket(per_minute=120, now=0.0)   # 2/s, bursts of 2
    assert [bucket.take(0.0) for _ in range(2)] == [0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)
    assert bucket.take(0.25) == pytest.approx(0.25)
    assert bucket.take(0.5) == 0.0
    assert bucket.take(10.0) == 0.0 and bucket.take(10.0) == 0.0   # never more than the burst
    assert bucket.take(10.0) > 0


def test_ready_in_says_what_take_would_without_counting_a_send():
    bucket = timing.TokenBucket(per_minute=120, now=0.0)   # 2/s, bursts of 2
    assert bucket.ready_in(0.0) == 0.0 and bucket.ready_in(0.0) == 0.0
    assert [bucket.take(0.0) for _ in range(2)] == [0.0, 0.0]  # nothing was counted
    assert bucket.ready_in(0.25) == pytest.approx(0.25) == bucket.take(0.25)
    assert timing.TokenBucket(per_minute=0).ready_in(0.0) == 0.0


def test_room_is_the_sends_that_may_go_now_without_counting_them():
    bucket = timing.TokenBucket(per_minute=600, now=0.0)   # 10/s, bursts of 10
    assert bucket.room(0.0) == 10 and bucket.room(0.0) == 10
    assert [bucket.take(0.0) for _ in range(7)] == [0.0] * 7
    assert bucket.room(0.0) == 3 and bucket.room(0.25) == 5  # 2.5 more after 0.25 s
    assert bucket.room(60.0) == 10  # never more than a burst
    assert timing.TokenBucket(per_minute=0).room(0.0) is None


def test_no_limit():
    bucket = timing.TokenBucket(per_minute=0)
    assert all(bucket.take(0.0) == 0.0 for _ in range(1000))


def test_slow_limits_have_a_burst_of_one():
    bucket = timing.TokenBucket(per_minute=6, now=0.0)
    assert bucket.take(0.0) == 0.0
    assert bucket.take(0.0) == pytest.approx(10.0)


# -- local time, digests, weeks -----------------------------------------------------------------------
@pytest.mark.parametrize("value, offset", [
    ("+07:00", 7), ("UTC+7", 7), ("+0700", 7), ("-03:30", -3.5), (None, 7),
])
def test_parse_timezone_offsets(value, offset):
    assert timing.parse_timezone(value).utcoffset(None) == timedelta(hours=offset)


def test_parse_timezone_names():
    moment = datetime(2025, 7, 1, 0, 0, tzinfo=timezone.utc)
    assert moment.astimezone(timing.parse_timezone("Asia/Ho_Chi_Minh")).hour == 7


def test_digest_day_is_the_local_day_from_the_hour_on():
    assert timing.digest_day(datetime(2025, 7, 1, 6, 59, tzinfo=VN), VN, 7) is None
    assert timing.digest_day(datetime(2025, 7, 1, 7, 0, tzinfo=VN), VN, 7) == date(2025, 7, 1)
    # 23:30 UTC on 30 June is 06:30 on 1 July in Vietnam: not yet
    assert timing.digest_day(datetime(2025, 6, 30, 23, 30, tzinfo=timezone.utc), VN, 7) is None
    assert timing.digest_day(datetime(2025, 7, 1, 1, 0, tzinfo=timezone.utc), VN, 7) == \
        date(2025, 7, 1)
    with pytest.raises(ValueError):
        timing.digest_day(datetime(2025, 7, 1, 8), VN, 7)


def test_one_digest_id_per_recipient_template_and_day():
    a = timing.digest_id("target_digest", "p-1", date(2025, 7, 1))
    assert a == timing.digest_id("target_digest", "p-1", date(2025, 7, 1))
    assert a != timing.digest_id("target_digest", "p-1", date(2025, 7, 2))
    assert a != timing.digest_id("target_digest", "p-2", date(2025, 7, 1))


def test_weekly_due_from_the_weekday_and_hour_of_each_iso_week():
    monday_early = datetime(2025, 7, 7, 6, 0, tzinfo=VN)
    monday = datetime(2025, 7, 7, 7, 0, tzinfo=VN)
    sunday = datetime(2025, 7, 13, 23, 0, tzinfo=VN)
    assert timing.weekly_due(monday_early, VN, 1, 7) is None
    assert timing.weekly_due(monday, VN, 1, 7).key == "2025-W28"
    assert timing.weekly_due(sunday, VN, 1, 7).key == "2025-W28"
    assert timing.weekly_due(sunday, VN, 7, 23).key == "2025-W28"
    assert timing.weekly_due(monday, VN, 3, 7) is None
    assert timing.iso_week(datetime(2026, 1, 1, tzinfo=VN), VN).key == "2026-W01"
    assert timing.iso_week(datetime(2024, 12, 30, tzinfo=VN), VN).key == "2025-W01"
    assert timing.Week(2025, 28).monday == date(2025, 7, 7)
    assert timing.summary_id("AG", timing.Week(2025, 28)) == \
        timing.summary_id("AG", timing.Week(2025, 28))
    assert timing.summary_id("AG", timing.Week(2025, 28)) != \
        timing.summary_id("AG", timing.Week(2025, 29))


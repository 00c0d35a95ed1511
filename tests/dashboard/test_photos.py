"""Photos with field reports and matters (issue 18): checked at the door, kept by digest, read in scope.

One real `wartime serve` over the test county (TC01 in wartime, a mass-testing
operation) serves the module: API tests post photos with reports and matters;
the phone test picks a camera picture on /field, goes offline, submits, comes
back, and the report is counted once with its photo retrievable.
"""

from __future__ import annotations

import base64
import hashlib
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from PIL import Image

from command.bounds import MAX_PHOTO_BYTES
from streams.keys import CountyKeys
from streams.server import EmbeddedRedis
from tests.conftest import PASSWORD, Served, eventually, log_in, phone, seed_county, start_server

MICRO = "TC01-L1-M1-S1-W1"  # under the `leader` account's small grid
OUTSIDE = "TC01-L2-M1-S1-W1"
COUNTY = "TC"


def jpeg(width: int = 64, height: int = 48, colour: tuple[int, int, int] = (200, 60, 30)) -> bytes:
    """A real JPEG picture (a gradient, so that it does not compress to nothing)."""
    img = Image.new("RGB", (width, height), colour)
    px = img.load()
    assert px is not None
    for x in range(0, width, max(1, width // 64)):
        for y in range(0, height, max(1, height // 64)):
            px[x, y] = (x * 255 // width, y * 255 // height, 128)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def camera_jpeg(width: int, height: int) -> bytes:
    """A picture with a photo's texture (gradients and fine grain), so that its JPEG size is realistic."""
    from PIL import ImageFilter

    base = Image.linear_gradient("L").resize((width, height))
    grain = Image.effect_noise((width, height), 40).filter(ImageFilter.GaussianBlur(1.2))
    out = io.BytesIO()
    Image.merge("RGB", (base, grain, base.rotate(180))).save(out, "JPEG", quality=90)
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def served(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    client = redis.Redis(unix_socket_path=str(redis_server.socket))
    client.flushall()
    client.script_flush()
    seed_county(redis_server.url)
    from command.access import Actor, Role
    from dashboard.auth import Accounts
    from streams.county import County
    from streams.server import connect

    Accounts(County(connect(redis_server.url), COUNTY)).add(
        "other", PASSWORD, "leader", "TC02-L1-M1-S1", Actor("test-setup", Role.COMMANDER, COUNTY))
    s = start_server(redis_server.url, tmp_path_factory.mktemp("photos"))
    h = s.headers("commander")
    r = requests.post(f"{s.url}/api/v1/modes", headers=h, timeout=10,
                      json={"scope": "TC01", "mode": "wartime", "incident": "epidemic", "level": "II"})
    assert r.status_code == 200, r.text
    r = requests.post(f"{s.url}/api/v1/operations", headers=h, timeout=10,
                      json={"kind": "mass_testing", "scope": "TC01", "name": "全员核酸检测",
                            "deadline": int(time.time() * 1000) + 72 * 3600 * 1000})
    assert r.status_code == 201, r.text
    s.operation = r.json()["operation_id"]  # type: ignore[attr-defined]
    yield s
    s.stop()


@pytest.fixture(scope="module")
def rc(redis_server: EmbeddedRedis) -> redis.Redis:
    return redis.Redis(unix_socket_path=str(redis_server.socket))


TOKENS: dict[str, str] = {}


def auth(s: Served, user: str) -> dict[str, str]:
    if user not in TOKENS:
        TOKENS[user] = s.token(user)
    return {"Authorization": f"Bearer {TOKENS[user]}"}


def post_report(s: Served, body: dict[str, Any], user: str = "leader") -> requests.Response:
    return requests.post(f"{s.url}/api/v1/operations/{s.operation}/reports",  # type: ignore[attr-defined]
                         headers=auth(s, user), json=body, timeout=15)


def sampled(s: Served, grid: str = MICRO) -> int:
    r = requests.get(f"{s.url}/api/v1/operations/{s.operation}/progress",  # type: ignore[attr-defined]
                     params={"grid": grid}, headers=auth(s, "commander"), timeout=10)
    r.raise_for_status()
    return int(r.json()["counts"]["sampled"])


def photo_keys(rc: redis.Redis) -> set[bytes]:
    return set(rc.scan_iter(match=CountyKeys(COUNTY).photo("*")))


def log_length(rc: redis.Redis) -> int:
    """Entries in every stream of the county (control and towns)."""
    return sum(rc.xlen(k) for k in rc.scan_iter(match="*:log") if rc.type(k) == b"stream")


def logged_photos(rc: redis.Redis, op: str) -> list[str]:
    """The photo digests of every report in the log (any town stream)."""
    out = []
    for key in rc.scan_iter(match="*:log"):
        if rc.type(key) != b"stream":
            continue
        for _, fields in rc.xrange(key):
            data = fields.get(b"d", b"")
            if b'"photo":"' in data:
                out.append(data.split(b'"photo":"', 1)[1][:64].decode())
    return out


def test_a_report_keeps_its_photo_by_digest_and_a_resend_is_a_duplicate(served: Served, rc: redis.Redis) -> None:
    image = jpeg(320, 240)
    digest = hashlib.sha256(image).hexdigest()
    before = sampled(served)
    body = {"report_id": "photo-1", "grid": MICRO, "counts": {"sampled": 2}, "photo_image": b64(image)}
    first = post_report(served, body)
    assert first.status_code == 201, first.text
    key = CountyKeys(COUNTY).photo(digest)
    assert rc.hget(key, "image") == image and rc.hget(key, "type") == b"image/jpeg"
    assert digest in logged_photos(rc, served.operation)  # type: ignore[attr-defined]
    assert all(len(v) < 2000 for _, v in rc.hgetall(key).items() if v != image)  # the log holds no image
    again = post_report(served, {**body, "photo_image": "data:image/jpeg;base64," + b64(image)})
    assert again.status_code == 200 and again.json()["duplicate"] is True, again.text
    assert logged_photos(rc, served.operation).count(digest) == 1  # type: ignore[attr-defined]
    eventually(lambda: sampled(served) == before + 2)
    got = requests.get(f"{served.url}/api/v1/photos/{digest}", headers=auth(served, "leader"), timeout=10)
    assert got.status_code == 200 and got.content == image
    assert got.headers["Content-Type"] == "image/jpeg"
    assert "private" in got.headers["Cache-Control"] and "immutable" in got.headers["Cache-Control"]


@pytest.mark.parametrize(("photo", "status", "code"), [
    (b64(b"GIF89a" + b"\0" * 100), 422, "invalid"),
    ("not base64 at all!", 422, None),
    (b64(b"\xff\xd8\xff" + b"\0" * (MAX_PHOTO_BYTES + 1)), 413, None),
    (12, 422, None),
], ids=["gif", "not-base64", "oversized", "not-text"])
def test_bad_or_oversized_photos_are_refused_naming_the_field_and_change_nothing(
    served: Served, rc: redis.Redis, photo: Any, status: int, code: str | None,
) -> None:
    keys, before = photo_keys(rc), log_length(rc)
    r = post_report(served, {"report_id": f"bad-{status}-{len(str(photo))}", "grid": MICRO,
                             "counts": {"sampled": 1}, "photo_image": photo})
    assert r.status_code == status, r.text
    assert r.json()["error"]["field"] == "photo_image"
    if code:
        assert r.json()["error"]["code"] == code
    assert photo_keys(rc) == keys and log_length(rc) == before
    # the same report without the photo is a new report, not a reused id: nothing was claimed
    ok = post_report(served, {"report_id": f"bad-{status}-{len(str(photo))}", "grid": MICRO,
                              "counts": {"sampled": 1}})
    assert ok.status_code == 201, ok.text


def test_a_refused_report_stores_no_photo(served: Served, rc: redis.Redis) -> None:
    keys = photo_keys(rc)
    r = post_report(served, {"report_id": "photo-outside", "grid": OUTSIDE, "counts": {"sampled": 1},
                             "photo_image": b64(jpeg(40, 40, (1, 2, 3)))})
    assert r.status_code == 403
    assert photo_keys(rc) == keys


def test_a_photo_is_read_only_inside_the_scope_it_was_taken_in(served: Served) -> None:
    image = jpeg(100, 80, (10, 200, 10))
    digest = hashlib.sha256(image).hexdigest()
    r = post_report(served, {"report_id": "photo-scope", "grid": MICRO, "counts": {"sampled": 1},
                             "photo_image": b64(image)})
    assert r.status_code == 201, r.text
    url = f"{served.url}/api/v1/photos/{digest}"
    assert requests.get(url, headers=auth(served, "town1"), timeout=10).status_code == 200
    assert requests.get(url, headers=auth(served, "viewer"), timeout=10).status_code == 200
    other = requests.get(url, headers=auth(served, "other"), timeout=10)
    assert other.status_code == 403 and other.json()["error"]["field"] == "photo"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(f"{served.url}/api/v1/photos/{'0' * 64}", headers=auth(served, "commander"),
                        timeout=10).status_code == 404
    bad = requests.get(f"{served.url}/api/v1/photos/nothex", headers=auth(served, "commander"), timeout=10)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "digest"


def test_a_matter_keeps_its_photo_and_serves_it_to_its_readers(served: Served, rc: redis.Redis) -> None:
    image = jpeg(200, 150, (90, 90, 200))
    digest = hashlib.sha256(image).hexdigest()
    body = {"matter_id": "photo-matter-1", "grid": MICRO, "category": "dispute", "description": "排水沟堵塞",
            "photo_image": b64(image), "location": {"lat": 30.5, "lon": 114.3, "accuracy": 12}}
    h = auth(served, "leader")
    r = requests.post(f"{served.url}/api/v1/matters", headers=h, json=body, timeout=15)
    assert r.status_code == 201, r.text
    assert r.json()["photo_digest"] == digest and r.json()["location"]["accuracy"] == 12
    again = requests.post(f"{served.url}/api/v1/matters", headers=h, json=body, timeout=15)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    url = f"{served.url}/api/v1/matters/photo-matter-1/photo"
    got = requests.get(url, headers=h, timeout=10)
    assert got.status_code == 200 and got.content == image and got.headers["Content-Type"] == "image/jpeg"
    assert requests.get(url, headers=auth(served, "other"), timeout=10).status_code == 403
    keys = photo_keys(rc)
    bad = requests.post(f"{served.url}/api/v1/matters", headers=h, timeout=15,
                        json={**body, "matter_id": "photo-matter-2", "photo_image": b64(b"%PDF-1.4" * 10)})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "photo_image"
    assert photo_keys(rc) == keys
    assert requests.get(f"{served.url}/api/v1/matters/photo-matter-2", headers=h, timeout=10).status_code == 404
    plain = requests.post(f"{served.url}/api/v1/matters", headers=h, timeout=15,
                          json={"matter_id": "photo-matter-3", "grid": MICRO, "category": "dispute",
                                "description": "无照片"})
    assert plain.status_code == 201 and plain.json()["photo_digest"] is None
    none = requests.get(f"{served.url}/api/v1/matters/photo-matter-3/photo", headers=h, timeout=10)
    assert none.status_code == 404


# -- the phone ------------------------------------------------------------------------------


def queued(page: Any, console: list[str]) -> None:
    """Wait for the report to be in the phone's queue; if it is not, say what the page said instead."""
    try:
        page.wait_for_selector("[data-queue][data-value='1']", timeout=60_000)
    except Exception:
        said = page.evaluate("() => [document.getElementById('field-msg')?.textContent,"
                             " document.querySelector('[data-queue]')?.outerHTML]")
        pytest.fail(f"the report was not queued; the page said {said!r}; console {console[-20:]!r}")


@pytest.mark.browser
def test_a_phone_photo_is_resized_queued_offline_and_sent_once(
    served: Served, rc: redis.Redis, browser: Any, artifacts: Path, tmp_path: Path,
) -> None:
    picture = tmp_path / "camera.jpg"
    picture.write_bytes(camera_jpeg(3000, 2000))  # a phone camera's size, ~1.2 MB
    ctx = phone(browser)
    page = ctx.new_page()
    posted: list[dict[str, Any]] = []
    page.on("request", lambda req: posted.append(req.post_data_json)
            if req.method == "POST" and req.url.endswith("/reports") else None)
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    log_in(page, f"{served.url}/field", "leader")
    page.wait_for_selector("input[name=sampled]", timeout=20_000)
    page.click(f"[data-action=pick-grid][data-grid='{MICRO}']") if page.locator(
        f"[data-action=pick-grid][data-grid='{MICRO}']").count() else None
    before = sampled(served)

    page.set_input_files("#field-photo", str(picture))
    page.wait_for_selector("#field-photo-thumb:not([hidden])", timeout=10_000)
    info = page.inner_text("#field-photo-info")
    assert "1280" in info, info
    page.locator("#field-photo-thumb").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "field-photo-picked-390x844.png"))

    ctx.set_offline(True)
    page.fill("input[name=sampled]", "3")
    page.click("[data-action=submit-report]")
    queued(page, console)
    assert page.locator("li[data-state=queued] .field-report-thumb").count() == 1
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts / "field-photo-offline-390x844.png"))
    time.sleep(0.5)
    assert sampled(served) == before and not posted  # nothing left the phone while offline

    ctx.set_offline(False)
    page.wait_for_selector("[data-queue][data-value='0']", timeout=30_000)
    page.wait_for_selector("li[data-state=acked] .field-report-thumb")
    eventually(lambda: sampled(served) == before + 3)
    time.sleep(1.0)
    assert sampled(served) == before + 3  # counted once

    bodies = [b for b in posted if b and b.get("photo_image")]
    assert bodies, posted
    image = base64.b64decode(bodies[0]["photo_image"].split(",", 1)[1])
    with Image.open(io.BytesIO(image)) as im:
        assert im.format == "JPEG" and max(im.size) <= 1280 and im.size == (1280, 853), im.size
    assert 30_000 < len(image) < 400_000, len(image)
    print(f"camera picture {picture.stat().st_size} bytes 3000x2000 -> posted {len(image)} bytes {im.size}")
    digest = hashlib.sha256(image).hexdigest()
    assert digest in logged_photos(rc, served.operation)  # type: ignore[attr-defined]
    got = requests.get(f"{served.url}/api/v1/photos/{digest}", headers=auth(served, "commander"), timeout=10)
    assert got.status_code == 200 and got.content == image
    assert page.evaluate("id => window.wartimeCapture.get(id)", bodies[0]["report_id"]) is None  # let go once acked
    page.screenshot(path=str(artifacts / "field-photo-sent-390x844.png"), full_page=True)
    ctx.close()


@pytest.mark.browser
def test_a_matter_is_recorded_with_a_photo_and_a_location_and_its_card_shows_it(
    served: Served, browser: Any, artifacts: Path, tmp_path: Path,
) -> None:
    picture = tmp_path / "matter.jpg"
    picture.write_bytes(camera_jpeg(2000, 3000))  # portrait
    ctx = phone(browser, geolocation={"latitude": 30.123456, "longitude": 114.654321, "accuracy": 15},
                permissions=["geolocation"])
    page = ctx.new_page()
    log_in(page, f"{served.url}/field/matters", "leader")
    page.wait_for_selector("#matters-app", state="visible", timeout=30_000)
    page.wait_for_selector("#matters-photo-file", state="attached", timeout=10_000)
    page.click("text=环境卫生")
    page.fill("#matters-description", "排水沟堵塞，雨天积水")
    page.set_input_files("#matters-photo-file", str(picture))
    page.wait_for_selector("#matters-photo-thumb:not([hidden])", timeout=10_000)
    assert "×1280" in page.inner_text("#matters-photo-info")  # portrait: the height is the longest side
    page.check("#matters-locate")
    # A function, not an expression: Playwright's poll eval()s an expression string, and once in CI the
    # page's CSP (no 'unsafe-eval') refused it (not reproduced on a CSP page here); a function is not eval'd.
    page.wait_for_function("() => document.getElementById('matters-where-text').textContent.indexOf('15') >= 0")
    page.locator("#matters-capture").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "matters-photo-form-390x844.png"))
    page.click("[data-action=record-matter]")
    page.wait_for_selector(".matters-form .matters-msg-ok", timeout=20_000)
    page.wait_for_selector("#matters-photo-thumb[hidden]", state="attached")  # the form let the photo go
    card = page.wait_for_selector("[data-matter]:has(img.matters-thumb)", timeout=20_000)
    mid = str(card.get_attribute("data-matter"))
    page.wait_for_function(
        "id => { const i = document.querySelector(`[data-matter=\"${id}\"] img.matters-thumb`);"
        " return i && i.src.startsWith('blob:') && i.complete && i.naturalWidth > 0; }", arg=mid, timeout=15_000)
    page.locator(f'[data-matter="{mid}"]').scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "matters-photo-card-390x844.png"))
    got = requests.get(f"{served.url}/api/v1/matters/{mid}", headers=auth(served, "commander"), timeout=10).json()
    assert got["location"] == {"lat": 30.123456, "lon": 114.654321, "accuracy": 15}
    photo = requests.get(f"{served.url}/api/v1/matters/{mid}/photo", headers=auth(served, "commander"), timeout=10)
    with Image.open(io.BytesIO(photo.content)) as im:
        assert im.size == (853, 1280)
    assert hashlib.sha256(photo.content).hexdigest() == got["photo_digest"]
    ctx.close()

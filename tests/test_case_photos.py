"""Photos of cases: checking uploads, removing metadata, storing, serving, access, Open311."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _api_auth import token_client
from conftest import cell_point
from conftest import response_json as _json
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import Engine, create_engine, text

from gridgis.cases import photos as photo_lib
from gridgis.errors import InputError
from gridgis.web import create_app
from gridgis.web.db import dispose_engine

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def _jpeg(width: int = 400, height: int = 200, *, orientation: int = 6) -> bytes:
    """A JPEG with EXIF: a camera, GPS and the orientation; a comment; a trailer after EOI."""
    image = Image.new("RGB", (width, height), "red")
    image.paste(Image.new("RGB", (width // 2, height), "blue"))  # left half blue
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "Canon"
    exif[GPS_IFD] = {1: "N", 2: (25.0, 24.0, 0.0), 3: "E", 4: (119.0, 1.0, 0.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"home address")
    return out.getvalue() + b"\xff\xd8appended picture with GPS"


def _png() -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Location", "25.4,119.0")
    out = io.BytesIO()
    Image.new("RGBA", (60, 30), (0, 128, 0, 128)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def _bomb() -> bytes:
    """A small PNG that claims 60000×60000 pixels (3.6 gigapixels)."""
    out = io.BytesIO()
    Image.new("1", (60000, 60000)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    return tmp_path / "photos"


@pytest.fixture
def app(demo_url: str, photo_dir: Path) -> Iterator[Flask]:
    application = create_app(
        {"TESTING": True, "DATABASE_URL": demo_url, "PHOTO_DIR": str(photo_dir)}
    )
    yield application
    dispose_engine(application)


@pytest.fixture
def db(demo_url: str) -> Iterator[Engine]:
    engine = create_engine(demo_url)
    yield engine
    engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return token_client(app.test_client(), role="admin", name="admin-photos")


def _form(db: Engine, **extra: Any) -> dict[str, Any]:
    _, lon, lat = cell_point(db)
    return {"category": "fire_safety", "lon": str(lon), "lat": str(lat), **extra}


def _file(client: FlaskClient, db: Engine, files: list[tuple[bytes, str]]) -> Any:
    data = _form(db)
    data["photos"] = [(io.BytesIO(b), name) for b, name in files]
    return client.post("/api/cases", data=data, content_type="multipart/form-data")


def _counts(db: Engine, photo_dir: Path) -> tuple[int, int, int]:
    with db.connect() as conn:
        cases = conn.execute(text("SELECT count(*) FROM case_record")).scalar_one()
        photos = conn.execute(text("SELECT count(*) FROM case_photo")).scalar_one()
    files = sum(1 for p in photo_dir.rglob("*") if p.is_file()) if photo_dir.exists() else 0
    return cases, photos, files


# --- the core ------------------------------------------------------------------------------------


def test_metadata_is_removed_but_the_orientation() -> None:
    [photo] = photo_lib.prepare_photos([("门口.jpg", _jpeg())])
    assert (photo.content_type, photo.width, photo.height, photo.orientation) == (
        "image/jpeg",
        400,
        200,
        6,
    )
    assert b"Canon" not in photo.data and b"home address" not in photo.data
    assert b"appended picture" not in photo.data
    with Image.open(io.BytesIO(photo.data)) as image:
        exif = image.getexif()
        assert dict(exif) == {ORIENTATION: 6}
        assert not exif.get_ifd(GPS_IFD)
        assert "comment" not in image.info
        image.load()  # the pixels are intact
    [png] = photo_lib.prepare_photos([("图.png", _png())])
    assert png.content_type == "image/png" and b"Location" not in png.data
    with Image.open(io.BytesIO(png.data)) as image:
        assert image.size == (60, 30) and "Location" not in image.info


def test_bad_photos_are_named_together() -> None:
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
    files = [("ok.jpg", _jpeg()), ("report.jpg", b"%PDF-1.7 not a photo"), ("IMG_1.HEIC", heic)]
    with pytest.raises(photo_lib.PhotoError) as caught:
        photo_lib.prepare_photos(files)
    reasons = [(p.index, p.name, p.reason) for p in caught.value.problems]
    # A HEIC header with nothing behind it: read as HEIC by its first bytes, refused by libheif.
    assert reasons == [(2, "report.jpg", "kind"), (3, "IMG_1.HEIC", "damaged")]
    with pytest.raises(photo_lib.PhotoError, match=r"photo 1 \('big.jpg'\) has \d+ bytes"):
        photo_lib.prepare_photos([("big.jpg", _jpeg())], max_bytes=1024)
    with pytest.raises(photo_lib.PhotoError, match="10 photos were sent but at most 9"):
        photo_lib.prepare_photos([("a.jpg", _jpeg())] * 10)
    with pytest.raises(photo_lib.PhotoError, match=r"60000×60000 pixels"):
        photo_lib.prepare_photos([("bomb.png", _bomb())])
    truncated = _jpeg()[:300]
    with pytest.raises(photo_lib.PhotoError, match="not a readable image"):
        photo_lib.prepare_photos([("cut.jpg", truncated)])


def test_links_are_http_urls() -> None:
    assert photo_lib.check_link(" https://img.example.cn/a.jpg ") == "https://img.example.cn/a.jpg"
    for bad in ("javascript:alert(1)", "ftp://x/a.jpg", "https://", "https://a b/c", "x" * 3000):
        with pytest.raises(ValueError, match="media_url"):
            photo_lib.check_link(bad)


# --- the API -------------------------------------------------------------------------------------


def test_filing_with_photos_stores_and_serves_them(
    client: FlaskClient, db: Engine, photo_dir: Path
) -> None:
    response = _file(client, db, [(_jpeg(), "门口.jpg"), (_png(), "楼道.png")])
    case = _json(response, 201)
    assert [p["id"] for p in case["photos"]] == sorted(p["id"] for p in case["photos"])
    listed = _json(client.get(f"/api/cases/{case['id']}/photos"), 200)
    assert [(p["kind"], p["content_type"], p["event_id"]) for p in listed["photos"]] == [
        ("upload", "image/jpeg", None),
        ("upload", "image/png", None),
    ]
    jpeg = client.get(listed["photos"][0]["url"])
    assert jpeg.status_code == 200 and jpeg.mimetype == "image/jpeg"
    assert jpeg.headers["Cache-Control"].startswith("private")
    assert b"Canon" not in jpeg.data
    png = client.get(listed["photos"][1]["url"])
    assert png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")
    thumb = client.get(listed["photos"][0]["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(thumb.data)) as image:
        assert image.size == (160, 320)  # 400×200 turned by orientation 6, then made smaller
        assert image.convert("RGB").getpixel((80, 10))[2] > 200  # the blue half is on top
    assert len(list(photo_dir.rglob("*.thumb.jpg"))) == 1  # kept for the next request
    timeline = _json(client.get(f"/api/cases/{case['id']}/timeline"), 200)
    assert [p["id"] for p in timeline["events"][0]["photos"]] == [p["id"] for p in case["photos"]]
    with db.connect() as conn:
        audited = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'photo' AND object_id = :id"),
            {"id": str(case["id"])},
        ).scalar_one()
    assert audited == 2
    assert client.get(f"/api/cases/{case['id']}/photos/{2**63}").status_code == 404
    assert client.get(f"/api/cases/{case['id']}/photos/999999/thumbnail").status_code == 404


def test_a_step_carries_photos_and_json_still_works(client: FlaskClient, db: Engine) -> None:
    case = _json(client.post("/api/cases", json={"category": "fire_safety", **_point(db)}), 201)
    assert "photos" not in case or case["photos"] is None
    moved = _json(
        client.post(
            f"/api/cases/{case['id']}/steps",
            data={
                "step": "registered",
                "note": "现场已核实",
                "photos": [(io.BytesIO(_jpeg()), "a.jpg")],
            },
            content_type="multipart/form-data",
        ),
        200,
    )
    assert moved["step"] == "registered" and len(moved["photos"]) == 1
    listed = _json(client.get(f"/api/cases/{case['id']}/photos"), 200)
    assert listed["photos"][0]["event_id"] == moved["event_id"]
    timeline = _json(client.get(f"/api/cases/{case['id']}/timeline"), 200)
    step = next(e for e in timeline["events"] if e["id"] == moved["event_id"])
    assert step["note"] == "现场已核实" and len(step["photos"]) == 1
    assert timeline["events"][0]["photos"] == []


def _point(db: Engine) -> dict[str, float]:
    _, lon, lat = cell_point(db)
    return {"lon": lon, "lat": lat}


def test_a_bad_photo_stores_nothing(client: FlaskClient, db: Engine, photo_dir: Path) -> None:
    before = _counts(db, photo_dir)
    response = _file(client, db, [(_jpeg(), "ok.jpg"), (b"GIF89a....", "cat.jpg")])
    assert response.status_code == 400
    message = response.get_json()["error"]["message"]
    assert "第 2 张照片（cat.jpg）不是 JPEG 或 PNG 图片" in message
    heic = client.post(
        "/api/cases?lang=en",
        data=_form(db) | {"photos": [(io.BytesIO(b"\0\0\0\x18ftypheic" + b"\0" * 20), "I.HEIC")]},
        content_type="multipart/form-data",
    )
    assert heic.status_code == 400  # HEIC by its first bytes, but nothing libheif can read
    assert "photo 1 (I.HEIC) cannot be read: " in heic.get_json()["error"]["message"]
    many = _file(client, db, [(_jpeg(), f"{i}.jpg") for i in range(10)])
    assert many.status_code == 400
    assert _counts(db, photo_dir) == before


def test_a_refused_case_rolls_its_photos_back(
    app: Flask, db: Engine, photo_dir: Path, streets: list[str]
) -> None:
    code, _, _ = cell_point(db)
    other = next(s for s in streets if s != code[:9])
    office = token_client(app.test_client(), role="street", street=other)
    before = _counts(db, photo_dir)
    response = office.post(
        "/api/cases",
        data=_form(db) | {"photos": [(io.BytesIO(_jpeg()), "a.jpg")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403
    assert _counts(db, photo_dir) == before


def test_a_case_the_database_refuses_leaves_no_photo_behind(
    client: FlaskClient, db: Engine, photo_dir: Path
) -> None:
    first = client.post(
        "/api/cases",
        data=_form(db, external_id="photo-twice") | {"photos": [(io.BytesIO(_jpeg()), "a.jpg")]},
        content_type="multipart/form-data",
    )
    _json(first, 201)
    before = _counts(db, photo_dir)
    again = client.post(  # the same external id, another photo: refused by the insert itself
        "/api/cases",
        data=_form(db, external_id="photo-twice")
        | {"photos": [(io.BytesIO(_jpeg(300, 100)), "b.jpg")]},
        content_type="multipart/form-data",
    )
    assert again.status_code == 409
    assert _counts(db, photo_dir) == before  # no case, no photo row, no file


def test_filing_stores_case_photos_and_audit_rows_in_one_statement(
    db: Engine, photo_dir: Path
) -> None:
    from gridgis.cases import create_case

    photos = photo_lib.prepare_photos([("门口.jpg", _jpeg()), ("楼道.png", _png())])
    store = photo_lib.FileStore(photo_dir)
    _, lon, lat = cell_point(db)
    case = create_case(
        db, category="fire_safety", lon=lon, lat=lat, actor="wang", photos=photos, store=store
    )
    ids = case["photo_ids"]
    stored = photo_lib.list_photos(db, case["id"])
    assert [p["id"] for p in stored] == ids and ids == sorted(ids)
    assert [p["storage_key"] for p in stored] == [
        f"{case['id']}/{photos[0].sha256}.jpg",
        f"{case['id']}/{photos[1].sha256}.png",
    ]
    assert store.get(stored[0]["storage_key"]) == photos[0].data
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT actor, street_code, summary FROM audit_log WHERE action = 'photo' "
                "AND object_id = :id ORDER BY id"
            ),
            {"id": str(case["id"])},
        ).all()
    assert [r.summary["after"] for r in rows] == [
        {
            "photo_id": p["id"],
            "event_id": None,
            "content_type": p["content_type"],
            "bytes": p["bytes"],
            "sha256": p["sha256"],
        }
        for p in stored
    ]
    assert {(r.actor, r.street_code) for r in rows} == {("wang", case["street_code"])}
    with (
        pytest.raises(InputError, match="`photos` are filed with an engine"),
        db.begin() as conn,
    ):
        create_case(conn, category="fire_safety", actor="wang", photos=photos, store=store)


def test_a_heic_photo_is_stored_as_an_upright_jpeg_without_its_metadata(
    client: FlaskClient, db: Engine
) -> None:
    import pillow_heif

    image = Image.new("RGB", (400, 200), "red")
    image.paste(Image.new("RGB", (200, 200), "blue"))  # left half blue
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[0x010F] = "Apple"
    exif[GPS_IFD] = {1: "N", 2: (25.0, 24.0, 0.0), 3: "E", 4: (119.0, 1.0, 0.0)}
    out = io.BytesIO()
    pillow_heif.from_pillow(image).save(out, quality=80, exif=exif.tobytes())
    heic = out.getvalue()
    assert heic[4:12] == b"ftypheic"  # as an iPhone sends it
    case = _json(_file(client, db, [(heic, "IMG_0001.HEIC")]), 201)
    listed = _json(client.get(f"/api/cases/{case['id']}/photos"), 200)["photos"]
    assert [(p["content_type"], p["width"], p["height"]) for p in listed] == [
        ("image/jpeg", 200, 400)  # turned upright when decoded
    ]
    stored = client.get(listed[0]["url"])
    assert stored.mimetype == "image/jpeg" and b"Apple" not in stored.data
    with Image.open(io.BytesIO(stored.data)) as jpeg:
        assert jpeg.format == "JPEG" and dict(jpeg.getexif()) == {}
        assert jpeg.convert("RGB").getpixel((100, 10))[2] > 200  # the blue half is on top
    bomb = photo_lib.prepare_photos
    with pytest.raises(photo_lib.PhotoError, match="is 200×400 pixels but a photo may have"):
        bomb([("big.heic", heic)], max_pixels=1000)


def test_photos_are_served_only_to_who_may_see_the_case(
    app: Flask, client: FlaskClient, db: Engine, streets: list[str]
) -> None:
    case = _json(_file(client, db, [(_jpeg(), "a.jpg")]), 201)
    [photo] = case["photos"]
    other = next(s for s in streets if s != case["street_code"])
    stranger = token_client(app.test_client(), role="street", street=other)
    for url in (f"/api/cases/{case['id']}/photos", photo["url"], photo["thumbnail_url"]):
        assert stranger.get(url).status_code == 404
    analyst = token_client(app.test_client(), role="analyst")
    assert analyst.get(photo["url"]).status_code == 200
    own = token_client(app.test_client(), role="street", street=case["street_code"])
    assert own.get(photo["thumbnail_url"]).status_code == 200
    assert app.test_client().get(photo["url"]).status_code == 401


@pytest.fixture
def streets(db: Engine) -> list[str]:
    with db.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT code FROM street ORDER BY code"))]


# --- Open311 -------------------------------------------------------------------------------------


def test_open311_media_url_is_kept_as_a_link(client: FlaskClient, app: Flask, db: Engine) -> None:
    _, lon, lat = cell_point(db)
    body = {"service_code": "fire_safety", "lat": str(lat), "long": str(lon)}
    bad = client.post("/open311/v2/requests.json", data=body | {"media_url": "file:///etc/passwd"})
    assert bad.status_code == 400 and "media_url" in bad.get_json()[0]["description"]
    url = "https://img.example.cn/photos/1.jpg"
    made = client.post("/open311/v2/requests.json", data=body | {"media_url": url})
    request_id = _json(made, 201)[0]["service_request_id"]
    mine = _json(client.get(f"/open311/v2/requests/{request_id}.json"), 200)
    assert mine[0]["media_url"] == url
    public = _json(app.test_client().get(f"/open311/v2/requests/{request_id}.json"), 200)
    assert public[0]["media_url"] is None  # photos may show people: never to the public
    listed = _json(client.get(f"/api/cases/{request_id}/photos"), 200)
    assert listed["photos"][0]["kind"] == "link" and listed["photos"][0]["url"] == url
    assert (
        client.get(f"/api/cases/{request_id}/photos/{listed['photos'][0]['id']}").status_code == 404
    )
    uploaded = _json(_file(client, db, [(_jpeg(), "a.jpg")]), 201)
    answered = _json(client.get(f"/open311/v2/requests/{uploaded['id']}.json"), 200)
    assert answered[0]["media_url"].endswith(uploaded["photos"][0]["thumbnail_url"])


# --- the multipart body (gridgis.web.multipart) --------------------------------------------------

_BOUNDARY = "----WebKitFormBoundary7MA4YWxkTrZu0gW"


def _part(name: str, value: bytes, *, filename: str | None = None, nl: str = "\r\n") -> bytes:
    head = f'--{_BOUNDARY}{nl}Content-Disposition: form-data; name="{name}"'
    if filename is not None:
        head += f'; filename="{filename}"{nl}Content-Type: image/jpeg'
    return (head + nl + nl).encode() + value + nl.encode()


def _raw(
    client: FlaskClient, body: bytes, content_type: str | None = None, *, lang: str = "en"
) -> Any:
    """Post ``body`` as it is (the test client would make an empty one into a form)."""
    return client.post(
        f"/api/cases?lang={lang}",
        input_stream=io.BytesIO(body),
        content_length=len(body),
        content_type=content_type or f"multipart/form-data; boundary={_BOUNDARY}",
    )


def _fields(db: Engine, nl: str = "\r\n") -> bytes:
    return b"".join(_part(k, v.encode(), nl=nl) for k, v in _form(db).items())


def test_photos_repeat_and_keep_their_names_in_any_writing(
    client: FlaskClient, db: Engine, photo_dir: Path
) -> None:
    body = (
        _fields(db)
        + _part("photos", _jpeg(), filename="现场 照片①.jpg")
        + _part("photos", _png(), filename="楼道.png")
        + f"--{_BOUNDARY}--\r\n".encode()
    )
    case = _json(_raw(client, body), 201)
    assert len(case["photos"]) == 2
    assert len(list(photo_dir.rglob("*.jpg"))) == 1 and len(list(photo_dir.rglob("*.png"))) == 1
    bad = (
        _fields(db) + _part("photos", b"GIF89a", filename="猫 ①.gif") + f"--{_BOUNDARY}--".encode()
    )
    message = _raw(client, bad).get_json()["error"]["message"]
    assert message.startswith("photo 1 (猫 ①.gif) is not a JPEG or PNG image")


def test_bodies_in_other_line_endings_are_read_too(client: FlaskClient, db: Engine) -> None:
    lf = _fields(db, "\n") + _part("photos", _jpeg(), filename="a.jpg", nl="\n")
    _json(_raw(client, lf + f"--{_BOUNDARY}--\n".encode()), 201)
    framed = b"a preamble\r\n" + _fields(db) + f"--{_BOUNDARY}--\r\nan epilogue".encode()
    _json(_raw(client, framed), 201)
    value = b"line one\r\nline two\r\n\r\n--" + _BOUNDARY.encode()[:-1]  # almost a boundary
    described = _fields(db) + _part("description", value) + f"--{_BOUNDARY}--\r\n".encode()
    assert _json(_raw(client, described), 201)["description"] == value.decode()


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (
            b"x",
            "multipart/form-data",
            "the request's Content-Type multipart/form-data has no boundary",
        ),
        (b"", None, f"the multipart/form-data body has no boundary line --{_BOUNDARY}"),
        (b"category=fire_safety", None, "the multipart/form-data body has no boundary line"),
        (
            _part("category", b"fire_safety"),  # cut short: no closing line
            None,
            f"the multipart/form-data body ends before its closing line --{_BOUNDARY}--",
        ),
        (
            f"--{_BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nx\r\n--{_BOUNDARY}--".encode(),
            None,
            "a part of the multipart/form-data body has no Content-Disposition header",
        ),
        (  # was a server error (500): Werkzeug reads such a part with the name None
            f"--{_BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--{_BOUNDARY}--".encode(),
            None,
            "a part of the multipart/form-data body has no name in its Content-Disposition header",
        ),
    ],
)
def test_a_body_that_cannot_be_read_is_400_saying_why(
    client: FlaskClient, body: bytes, content_type: str | None, message: str
) -> None:
    """Werkzeug alone read these as an empty form: the answer was "`case` needs `category`"."""
    response = _raw(client, body, content_type)
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "bad_multipart" and error["message"].startswith(message)
    chinese = _raw(client, body, content_type, lang="zh").get_json()["error"]["message"]
    assert "multipart/form-data" in chinese and chinese != error["message"]  # in Chinese


def test_too_many_parts_or_a_long_field_is_413_naming_the_limit(
    client: FlaskClient, db: Engine, photo_dir: Path
) -> None:
    before = _counts(db, photo_dir)
    many = _fields(db) + b"".join(_part("photos", b"", filename="") for _ in range(1001))
    response = _raw(client, many + f"--{_BOUNDARY}--\r\n".encode())
    assert response.status_code == 413
    assert response.get_json()["error"]["message"] == (
        "the multipart/form-data body has more than 1000 parts"
    )
    long = _fields(db) + _part("description", b"x" * 500_001) + f"--{_BOUNDARY}--".encode()
    response = _raw(client, long)
    assert response.status_code == 413
    assert response.get_json()["error"]["message"] == (
        "the form field `description` has 500001 bytes but may have at most 500000"
    )
    repeated = _fields(db) + _part("category", b"fire_safety") + f"--{_BOUNDARY}--".encode()
    response = _raw(client, repeated)
    assert response.status_code == 422
    assert "`category` was given 2 times but may be given once" in response.get_data(as_text=True)
    assert _counts(db, photo_dir) == before

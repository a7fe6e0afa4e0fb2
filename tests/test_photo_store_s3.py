"""The S3-compatible photo store, against a real S3 HTTP server (moto's, in its own process).

The server is ``python -m moto.server`` on a free port, spoken to over HTTP by boto3 as
MinIO or Ceph would be; a run that cannot start it fails. Each test has its own bucket.
"""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from _api_auth import token_client
from click.testing import CliRunner
from conftest import cell_point
from conftest import response_json as _json
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from test_case_photos import _jpeg
from test_party_visits import ADMIN, END, START, _street, seed_people

from gridgis.cases import photo_stores
from gridgis.cases import photos as photo_lib
from gridgis.errors import ConfigError, NotFoundError, StorageError

ACCESS, SECRET = "gridgis-test-access", "never-shown-secret-0123456789"
PREFIX = "gridgis/photos/"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of an S3 server (moto) in a process of its own; fails when it cannot start."""
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/moto-api/", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the S3 server (moto) did not start: {log.read_text()[-2000:]}")
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def _boto(url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=ACCESS,
        aws_secret_access_key=SECRET,
    )


@pytest.fixture
def s3(s3_server: str) -> Any:
    """A boto3 client of the server, to look into buckets behind gridgis's back."""
    return _boto(s3_server)


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"photos-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_env(s3_server: str, bucket: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """``GRIDGIS_PHOTO_STORE=s3`` on the test's bucket; returns the bucket."""
    for name, value in {
        "PHOTO_STORE": "s3",
        "S3_ENDPOINT": s3_server,
        "S3_BUCKET": bucket,
        "S3_PREFIX": PREFIX,
        "S3_ACCESS_KEY": ACCESS,
        "S3_SECRET_KEY": SECRET,
        "S3_ADDRESSING": "path",
    }.items():
        monkeypatch.setenv("GRIDGIS_" + name, value)
    return bucket


def _objects(s3: Any, bucket: str) -> dict[str, bytes]:
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


# --- the store -----------------------------------------------------------------------------------


def test_put_get_delete_under_the_prefix(s3_env: str, s3: Any) -> None:
    store = photo_lib.photo_store()
    assert isinstance(store, photo_stores.S3Store)
    assert store.put("7/abc.jpg", b"jpeg bytes") is True
    assert store.put("7/abc.jpg", b"jpeg bytes") is False  # there already: not written again
    assert store.get("7/abc.jpg") == b"jpeg bytes"
    assert _objects(s3, s3_env) == {PREFIX + "7/abc.jpg": b"jpeg bytes"}
    head = s3.head_object(Bucket=s3_env, Key=PREFIX + "7/abc.jpg")
    assert head["ContentType"] == "image/jpeg"
    assert list(store.keys()) == ["7/abc.jpg"]
    store.delete("7/abc.jpg")
    store.delete("7/abc.jpg")  # gone already: silent
    assert _objects(s3, s3_env) == {}
    with pytest.raises(NotFoundError, match=r"the photo store has no '7/abc\.jpg'"):
        store.get("7/abc.jpg")
    with pytest.raises(ValueError, match=r"`key` was '\.\./x\.jpg'"):
        store.put("../x.jpg", b"x")


def test_the_client_is_made_once_per_process(s3_env: str) -> None:
    first, second = photo_lib.photo_store(), photo_lib.photo_store()
    assert isinstance(first, photo_stores.S3Store) and isinstance(second, photo_stores.S3Store)
    assert first._client is second._client
    assert SECRET not in repr(first) and SECRET not in str(first)


def test_a_missing_bucket_and_a_dead_server_are_named_errors(
    s3_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = photo_stores.S3Store(
        "no-such-bucket", endpoint=s3_server, access_key=ACCESS, secret_key=SECRET
    )
    with pytest.raises(StorageError, match=r"s3://no-such-bucket/ at .*NoSuchBucket") as caught:
        missing.put("1/a.jpg", b"x")
    assert caught.value.status == 503 and SECRET not in str(caught.value)
    dead = f"http://127.0.0.1:{_free_port()}"
    down = photo_stores.S3Store("photos", endpoint=dead, access_key=ACCESS, secret_key=SECRET)
    for call in (lambda: down.get("1/a.jpg"), lambda: list(down.keys())):
        with pytest.raises(StorageError, match=f"s3://photos/ at {dead} .*cannot connect"):
            call()


def test_settings_name_a_bad_combination(monkeypatch: pytest.MonkeyPatch) -> None:
    from gridgis import config
    from gridgis.config_docs import describe

    monkeypatch.setenv("GRIDGIS_PHOTO_STORE", "s3")
    with pytest.raises(ConfigError, match="GRIDGIS_S3_BUCKET is unset"):
        photo_lib.photo_store()
    monkeypatch.setenv("GRIDGIS_S3_BUCKET", "photos")
    monkeypatch.setenv("GRIDGIS_S3_SECRET_KEY", SECRET)
    with pytest.raises(ConfigError, match="GRIDGIS_S3_SECRET_KEY is set but GRIDGIS_S3_ACCESS_KEY"):
        config.settings()
    monkeypatch.setenv("GRIDGIS_S3_ACCESS_KEY", ACCESS)
    shown = str(describe(config.settings()))
    assert SECRET not in shown and ACCESS not in shown
    monkeypatch.setenv("GRIDGIS_S3_PREFIX", "a/../b")
    with pytest.raises(ConfigError, match=r"GRIDGIS_S3_PREFIX was 'a/\.\./b'"):
        config.settings()


# --- through the web app -------------------------------------------------------------------------


@pytest.fixture
def app_database_url(demo_url: str) -> str:
    """The ``app`` fixture (conftest) serves a fresh copy of the demo district."""
    return demo_url


@pytest.fixture
def db(demo_engine: Engine) -> Engine:
    return demo_engine


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return token_client(app.test_client(), role="admin", name="admin-s3")


def _file_case(client: FlaskClient, db: Engine, photo: bytes) -> Any:
    _, lon, lat = cell_point(db)
    form = {"category": "fire_safety", "lon": str(lon), "lat": str(lat)}
    return client.post(
        "/api/cases?lang=en",
        data=form | {"photos": [(io.BytesIO(photo), "门口.jpg")]},
        content_type="multipart/form-data",
    )


def test_a_case_filed_with_a_photo_is_kept_in_the_bucket_and_served_to_its_users(
    s3_env: str, s3: Any, app: Flask, client: FlaskClient, db: Engine
) -> None:
    case = _json(_file_case(client, db, _jpeg()), 201)
    [photo] = photo_lib.list_photos(db, case["id"])
    stored = _objects(s3, s3_env)
    assert list(stored) == [PREFIX + photo["storage_key"]]
    assert stored[PREFIX + photo["storage_key"]][:3] == b"\xff\xd8\xff"
    assert b"Canon" not in stored[PREFIX + photo["storage_key"]]  # stripped before storing
    [links] = case["photos"]
    served = client.get(links["url"])
    assert served.status_code == 200 and served.data == stored[PREFIX + photo["storage_key"]]
    thumb = client.get(links["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    thumb_key = PREFIX + photo["storage_key"].removesuffix(".jpg") + ".thumb.jpg"
    assert _objects(s3, s3_env)[thumb_key] == thumb.data  # kept beside it for the next request
    with db.connect() as conn:
        streets = [r[0] for r in conn.execute(text("SELECT code FROM street ORDER BY code"))]
    other = next(s for s in streets if s != case["street_code"])
    stranger = token_client(app.test_client(), role="street", street=other)
    for url in (links["url"], links["thumbnail_url"]):
        assert stranger.get(url).status_code == 404
    own = token_client(app.test_client(), role="street", street=case["street_code"])
    assert own.get(links["thumbnail_url"]).status_code == 200
    assert app.test_client().get(links["url"]).status_code == 401


def test_a_visit_photo_is_kept_in_the_bucket(
    s3_env: str, s3: Any, app: Flask, client: FlaskClient, db: Engine
) -> None:
    from gridgis.party.campaigns import Visitor, create_campaign
    from gridgis.party.visits import list_targets, log_visit

    street = _street(db)
    members = seed_people(db, street)["members"]
    campaign = create_campaign(
        db, name="大走访", area=street, starts_on=START, ends_on=END, actor="test"
    )
    target = list_targets(db, campaign_id=campaign["id"])[0]
    photos = photo_lib.prepare_photos([("门口.jpg", _jpeg())])
    visit = log_visit(
        db, target["id"], policy=ADMIN, visitor=Visitor(member_id=members[0]), photos=photos,
        store=photo_lib.photo_store(), actor="admin",
    )  # fmt: skip
    key = f"visits/{visit['id']}/{photos[0].sha256}.jpg"
    assert _objects(s3, s3_env) == {PREFIX + key: photos[0].data}
    with db.connect() as conn:
        photo_id = conn.execute(
            text("SELECT id FROM visit_photo WHERE visit_id = :v"), {"v": visit["id"]}
        ).scalar_one()
    url = f"/api/party/visits/{visit['id']}/photos/{photo_id}/thumbnail"
    assert client.get(url).status_code == 200
    assert PREFIX + key.removesuffix(".jpg") + ".thumb.jpg" in _objects(s3, s3_env)
    other = next(s for s in _streets(db) if s != street)
    assert token_client(app.test_client(), role="street", street=other).get(url).status_code == 404


def _streets(db: Engine) -> list[str]:
    with db.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT code FROM street ORDER BY code"))]


def test_an_unreachable_store_answers_503_and_stores_no_case(
    s3_env: str, client: FlaskClient, db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = _json(_file_case(client, db, _jpeg()), 201)
    dead = f"http://127.0.0.1:{_free_port()}"
    monkeypatch.setenv("GRIDGIS_S3_ENDPOINT", dead)
    with db.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM case_record")).scalar_one()
    refused = _file_case(client, db, _jpeg(300, 100))
    assert refused.status_code == 503 and refused.mimetype == "application/json"
    error = refused.get_json()["error"]
    assert error["code"] == "storage_unavailable"
    assert error["message"] == (
        f"The photo store (s3://{s3_env}/{PREFIX} at {dead}) is unavailable; try again "
        "later, or tell the administrator."
    )
    assert SECRET not in refused.text and "Traceback" not in refused.text
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM case_record")).scalar_one() == before
    served = client.get(case["photos"][0]["url"] + "?lang=zh")
    assert served.status_code == 503
    assert served.get_json()["error"]["message"].startswith(f"照片存储（s3://{s3_env}/")


# --- the commands --------------------------------------------------------------------------------


def test_migrate_then_check(
    s3_env: str, s3: Any, db: Engine, demo_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from gridgis.cases import create_case
    from gridgis.cli import main

    folder = tmp_path / "photos"
    files = photo_stores.FileStore(folder)
    photos = photo_lib.prepare_photos([("a.jpg", _jpeg()), ("b.jpg", _jpeg(300, 100))])
    _, lon, lat = cell_point(db)
    case = create_case(
        db, category="fire_safety", lon=lon, lat=lat, actor="t", photos=photos, store=files
    )
    photo_lib.thumbnail(files, photo_lib.list_photos(db, case["id"])[0])
    runner = CliRunner()
    env = {"GRIDGIS_DATABASE_URL": demo_url, "GRIDGIS_PHOTO_STORE": "file",
           "GRIDGIS_PHOTO_DIR": str(folder)}  # fmt: skip
    checked = runner.invoke(main, ["photos", "check"], env=env)
    assert checked.exit_code == 0, checked.output
    assert "2 photos checked (2 of cases, 0 of visits), 0 missing" in checked.output

    moved = runner.invoke(main, ["photos", "migrate", "--to", "s3"], env=env)
    assert moved.exit_code == 0, moved.output
    assert "3 copied, 0 already there, of 3 photos and thumbnails" in moved.output
    assert "set GRIDGIS_PHOTO_STORE=s3" in moved.output
    assert _objects(s3, s3_env) == {PREFIX + k: files.get(k) for k in list(files.keys())}
    again = runner.invoke(main, ["photos", "migrate", "--to", "s3", "--dir", str(folder)], env=env)
    assert "0 copied, 3 already there, of 3" in again.output

    s3_check = runner.invoke(main, ["photos", "check"], env=env | {"GRIDGIS_PHOTO_STORE": "s3"})
    assert s3_check.exit_code == 0 and ", 0 missing" in s3_check.output
    lost = photo_lib.list_photos(db, case["id"])[1]["storage_key"]
    s3.delete_object(Bucket=s3_env, Key=PREFIX + lost)
    broken = runner.invoke(main, ["photos", "check"], env=env | {"GRIDGIS_PHOTO_STORE": "s3"})
    assert broken.exit_code == 1
    assert f"missing: {lost}\n" in broken.output and ", 1 missing" in broken.output

    back = tmp_path / "back"
    home = runner.invoke(main, ["photos", "migrate", "--to", "file", "--dir", str(back)], env=env)
    assert home.exit_code == 0 and "2 copied, 0 already there, of 2" in home.output
    monkeypatch.setenv("GRIDGIS_S3_ENDPOINT", f"http://127.0.0.1:{_free_port()}")
    dead = runner.invoke(main, ["photos", "check"], env=env | {"GRIDGIS_PHOTO_STORE": "s3"})
    assert dead.exit_code == 1 and "Error: the photo store s3://" in dead.output
    assert "Traceback" not in dead.output and SECRET not in dead.output

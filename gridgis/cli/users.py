"""`gridgis users`: the users of the web app, their passwords and API tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from gridgis import config
from gridgis.cli._shared import actor, friendly
from gridgis.errors import GridGISError

if TYPE_CHECKING:
    from gridgis.users import User


@click.group("users")
def users_group() -> None:
    """Users of the web app: admin (everything), street (one street), analyst (reads only),
    worker (a grid worker's cases), department (the cases dispatched to it)."""


def _ask_password(name: str) -> str:
    """``GRIDGIS_PASSWORD`` when set, else asked twice without echo (and again if too short)."""
    from gridgis import users

    settings = config.settings()
    if settings.password is not None:
        return settings.password.get_secret_value()

    def checked(value: str) -> str:
        try:
            users.check_password(value, name=name)
        except GridGISError as exc:
            raise click.UsageError(str(exc)) from exc
        return value

    entered: str = click.prompt(
        f"Password for {name} (at least {settings.password_min_length} characters)",
        hide_input=True,
        confirmation_prompt=True,
        value_proc=checked,
        err=True,
    )
    return entered


@users_group.command("add")
@click.argument("name")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["admin", "street", "analyst", "worker", "department", "member"]),
    help="admin: sees and edits everything; street: sees and exports one street; "
    "analyst: reads and exports everything, edits nothing; worker: a grid worker (网格员), "
    "sees the cases of its cells, files and verifies them; department: a department "
    "(职能部门), handles the cases dispatched to it; member: a party member (党员), sees the "
    "大走访 targets assigned to it and logs its visits.",
)
@click.option("--street", default=None, help="The street's 9-digit code (role street only).")
@click.option(
    "--worker",
    "worker",
    default=None,
    help="The grid worker's id as imported (role worker only).",
)
@click.option("--department", default=None, help="The department's code (role department only).")
@click.option(
    "--member", default=None, help="The party member's id as imported (role member only)."
)
@click.option(
    "--if-no-users",
    is_flag=True,
    help="Add the user only if there is no user at all (for first-time setup scripts).",
)
@friendly
def users_add_cmd(
    name: str,
    role: str,
    street: str | None,
    worker: str | None,
    department: str | None,
    member: str | None,
    if_no_users: bool,
) -> None:
    """Add a user NAME. The password is GRIDGIS_PASSWORD when set, else asked twice."""
    from gridgis import users
    from gridgis.db.engine import get_engine

    engine = get_engine()
    if if_no_users and users.count_users(engine) > 0:
        click.echo(f"users exist already: {name!r} not added")
        return
    users.check_name(name)
    if role == "street" and not street:
        raise click.UsageError(f"role 'street' needs --street CODE: the street {name!r} may see")
    if role != "street" and street:
        raise click.UsageError(f"--street is only for role 'street'; {role!r} sees every street")
    for option, value in (("worker", worker), ("department", department), ("member", member)):
        if (role == option) != (value is not None):
            raise click.UsageError(
                f"role {option!r} needs --{option} and only it takes --{option}; "
                f"got --role {role}" + (f" --{option} {value}" if value is not None else "")
            )
    if street:
        users.check_street(engine, street)
    user = users.add_user(
        engine,
        name,
        role=role,
        street=street,
        worker=worker,
        department=department,
        member=member,
        password=_ask_password(name),
        actor=actor(),
    )
    click.echo(f"added user {user.name!r}: {user.role}{_where(user)}")


def _where(user: User) -> str:
    """What limits a user, for the messages: its street, worker or department."""
    if user.role == "worker":
        cells = ", ".join(user.areas[:6]) + (" …" if len(user.areas) > 6 else "")
        return f" (grid worker {user.worker_id}; cells {cells or 'none yet'})"
    if user.role == "department":
        return f" of department {user.department_code}"
    if user.role == "member":
        return f" (party member {user.member_id})"
    if user.scope:
        return f" of street {user.street_code} {user.street_name or ''}".rstrip()
    return ""


@users_group.command("list")
@friendly
def users_list_cmd() -> None:
    """List the users with their role, street, API token and last login."""
    from gridgis import users
    from gridgis.db.engine import get_engine

    found = users.list_users(get_engine())
    if not found:
        click.echo("no users yet; add one with `gridgis users add NAME --role admin`")
        return
    click.echo(f"{'name':<20} {'role':<8} {'street':<24} {'token':<6} last login")
    for user in found:
        street = _where(user).strip() or "-"
        last = user.last_login_at.strftime("%Y-%m-%d %H:%M") if user.last_login_at else "never"
        token = "yes" if user.has_token else "no"
        click.echo(f"{user.name:<20} {user.role:<8} {street:<24} {token:<6} {last}")


@users_group.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@friendly
def users_remove_cmd(name: str, yes: bool) -> None:
    """Remove the user NAME; its sessions and API token stop working at once."""
    from gridgis import users
    from gridgis.db.engine import get_engine

    engine = get_engine()
    users.get_user(engine, name)  # an unknown name is an error before asking
    if not yes:
        click.confirm(f"Remove user {name!r}?", abort=True)
    users.remove_user(engine, name, actor=actor())
    click.echo(f"removed user {name!r}")


@users_group.command("password")
@click.argument("name")
@friendly
def users_password_cmd(name: str) -> None:
    """Set NAME's password (GRIDGIS_PASSWORD, else asked twice); ends its sessions and token."""
    from gridgis import users
    from gridgis.db.engine import get_engine

    engine = get_engine()
    users.get_user(engine, name)
    users.set_password(engine, name, _ask_password(name), actor=actor())
    click.echo(
        f"password of {name!r} changed; its sessions signed in before have ended "
        "and its API token (if any) was withdrawn"
    )


@users_group.command("token")
@click.argument("name")
@click.option("--revoke", is_flag=True, help="Withdraw the user's token instead.")
@friendly
def users_token_cmd(name: str, revoke: bool) -> None:
    """Issue an API token for NAME (replacing any previous one) and print it once.

    Clients send it as `Authorization: Bearer TOKEN`; Open311 clients may send
    it as `api_key`. Only its SHA-256 is stored: it cannot be shown again.
    """
    from gridgis import users
    from gridgis.db.engine import get_engine

    engine = get_engine()
    if revoke:
        users.revoke_token(engine, name, actor=actor())
        click.echo(f"the API token of {name!r} is withdrawn")
        return
    token = users.issue_token(engine, name, actor=actor())
    click.echo(f"API token of {name!r} (shown only now; it replaces any earlier one):", err=True)
    click.echo(token)

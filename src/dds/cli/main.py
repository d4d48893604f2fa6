"""`dds serve` runs the service; `dds admin ...` manages identity offline."""

from __future__ import annotations

import signal

import typer
from rich.console import Console

from dds.cli import admin, commands, logfmt, manage
from dds.core.settings import get_settings

app = typer.Typer(help="Self-hosted Document Database Service (DDS API v3).", no_args_is_help=True)
app.add_typer(admin.app, name="admin")
commands.register(app)
manage.register(app)
console = Console(stderr=True, soft_wrap=True)  # a log file gets whole lines, not 80-column ones


@app.callback()
def _root() -> None:
    """Self-hosted Document Database Service (DDS API v3)."""


@app.command()
def serve(
    host: str = typer.Option(None, help="listen address (DDS_HOST)"),
    port: int = typer.Option(None, help="listen port (DDS_PORT)"),
) -> None:
    """Run the API, job workers, scheduler and engine supervisor."""
    import uvicorn

    from dds.server import Server
    from dds.services import iam

    settings = get_settings()
    if host:
        settings.host = host
    if port:
        settings.port = port
    logfmt.configure(settings.log_format, access_log=settings.access_log)
    if not settings.engine_path.is_file():
        # One line a newcomer can act on, before anything is created or started.
        console.print(
            f"dds serve: the engine binary {settings.engine_path} does not exist; "
            "build it with `make setup` (scripts/build-engine.sh) or set DDS_ENGINE_BIN",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(1)
    server = Server(settings)
    server.prepare()
    project = iam.demo_project_id(server.parts)
    api = server.app()
    url = settings.public_url or f"http://{settings.host}:{settings.port}"
    console.print(f"[bold]DDS[/bold] on {url}  data: {settings.data_dir.resolve()}")
    name = iam.demo_project_name(server.parts)
    # Labelled `demo` as every earlier release printed it (scripts read this line); its name is
    # the region's, as project names carry the region (the Terraform provider takes it from them).
    console.print(
        f"Project 'demo': [cyan]{project}[/cyan] (the {{project_id}} in every path; "
        f"the development token's project, named '{name}')"
    )
    console.print(
        "Credentials for it (see docs/authentication.md):\n"
        f"  AK/SK:    [cyan]dds admin credentials create --project {name} --output json[/cyan]\n"
        f"  password: [cyan]dds admin user create --project {name} --name demo --password-stdin[/cyan]"
        f"  (Keystone auth_url {settings.api_url}/identity/v3, user domain {settings.identity_domain})"
    )
    if settings.dev_token:
        console.print(
            f"Development token: header [cyan]X-Auth-Token: {settings.dev_token}[/cyan] "
            "(set DDS_DEV_TOKEN= to disable; see docs/authentication.md)."
        )
    # uvicorn turns SIGTERM into a graceful shutdown, which stops every engine we started.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    # Our own access log (dds.access, with the route and latency) replaces uvicorn's.
    uvicorn.run(api, host=settings.host, port=settings.port, log_level="info", access_log=False, log_config=None)


def main() -> None:
    app()


if __name__ == "__main__":
    main()

"""HTTP plumbing shared by the routes: the request class, parameters, uploads, and answers.

- Bodies: ``multipart/form-data``, ``application/x-www-form-urlencoded`` and JSON are all read,
  and merged over the query string like Laravel's ``$request->input()`` [INF].
- File parts stream straight into the server's ``uploads/`` directory (never into memory) and
  are deleted after the request unless a job took them over.
- JSON answers use PHP's encoding and the recorded headers: ``Content-Type: application/json``,
  ``Cache-Control: no-cache, private`` [REC]; ``Server`` is added for every answer.
- Unknown routes get an HTML 404 page like Laravel's, a wrong method a 405 (JSON ``message`` when
  the client asks for JSON, as Laravel does) [INF].
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import IO, Any

from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Request, Response

from mvsepd.emulator import phpjson
from mvsepd.emulator.admission import Upload

JSON_HEADERS = {"Cache-Control": "no-cache, private"}
FORM_MEMORY_BYTES = 4 * 1024 * 1024


class EmulatorRequest(Request):
    """A request whose file parts go to ``upload_dir`` as named files."""

    upload_dir: Path = Path(tempfile.gettempdir())
    max_form_memory_size = FORM_MEMORY_BYTES

    def __init__(self, environ: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(environ, *args, **kwargs)
        self.upload_paths: list[Path] = []

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed by Request.close()
            dir=self.upload_dir, prefix="upload-", delete=False
        )
        self.upload_paths.append(Path(handle.name))
        return handle

    def discard_uploads(self) -> None:
        """Close the request's files and delete those no job took over."""
        self.close()
        for path in self.upload_paths:
            path.unlink(missing_ok=True)


def request_class(upload_dir: Path, max_content_length: int | None) -> type[EmulatorRequest]:
    """An ``EmulatorRequest`` subclass bound to one server's storage and limits."""
    return type(
        "BoundEmulatorRequest",
        (EmulatorRequest,),
        {"upload_dir": upload_dir, "max_content_length": max_content_length},
    )


def params(request: Request) -> dict[str, str]:
    """Query string overlaid with the body fields (form or JSON)."""
    merged = {key: value for key, value in request.args.items()}
    if request.mimetype == "application/json":
        try:
            body = json.loads(request.get_data(as_text=True) or "{}")
        except ValueError:
            body = {}
        if isinstance(body, dict):
            merged.update({str(k): "" if v is None else str(v) for k, v in body.items()})
    else:
        merged.update({key: value for key, value in request.form.items()})
    return merged


def upload(request: Request, field: str) -> Upload | None:
    """The file part ``field``, flushed to disk, or None."""
    storage: FileStorage | None = request.files.get(field)
    if storage is None or (not storage.filename and storage.content_length == 0):
        return None
    stream = storage.stream
    stream.flush()
    name = getattr(stream, "name", None)
    if not isinstance(name, str):
        return None
    path = Path(name)
    size = path.stat().st_size
    if size == 0 and not storage.filename:
        return None
    return Upload(path=path, filename=storage.filename or field, size=size)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(phpjson.dumps(body), status=status, content_type="application/json")
    response.headers.update(JSON_HEADERS)
    if headers:
        response.headers.update(headers)
    return response


def errors(message: str, status: int = 400) -> Response:
    """``{"success":false,"errors":[message]}`` (the recorded create rejections)."""
    return json_response({"success": False, "errors": [message]}, status)


def failure(message: str, status: int = 400) -> Response:
    """``{"success":false,"data":{"message":message}}`` (the documented failure shape)."""
    return json_response({"success": False, "data": {"message": message}}, status)


def invalid_token(status: int) -> Response:
    return failure("Invalid API key", status)


def too_many_attempts(headers: dict[str, str]) -> Response:
    return json_response({"message": "Too Many Attempts."}, 429, headers)


def html_error(status: int, title: str, headers: dict[str, str] | None = None) -> Response:
    page = _LARAVEL_PAGE.format(status=status, title=title)
    response = Response(page, status=status, content_type="text/html; charset=UTF-8")
    response.headers.update(JSON_HEADERS)
    if headers:
        response.headers.update(headers)
    return response


def bad_gateway() -> Response:
    response = Response(_BAD_GATEWAY, status=502, content_type="text/html")
    response.headers["Server"] = "nginx"
    return response


def service_unavailable() -> Response:
    return Response("Service Unavailable", status=503, content_type="text/plain; charset=UTF-8")


_BAD_GATEWAY = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)

_LARAVEL_PAGE = """<!DOCTYPE html>
<html lang="en">
    <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">

        <title>{title}</title>

        <style>
            body {{ font-family: ui-sans-serif, system-ui, sans-serif; margin: 0; }}
            .wrap {{ display: flex; min-height: 100vh; align-items: center;
                     justify-content: center; background: #f7fafc; color: #a0aec0; }}
            .code {{ padding: 0 1rem; border-right: 1px solid #cbd5e0; font-size: 1.125rem; }}
            .message {{ margin-left: 1rem; font-size: 1.125rem; text-transform: uppercase; }}
        </style>
    </head>
    <body class="antialiased">
        <div class="wrap">
            <div class="code">{status}</div>
            <div class="message">{title}</div>
        </div>
    </body>
</html>
"""

"""A fake Hugging Face hub on 127.0.0.1 for the pull tests: the URL layout and headers huggingface_hub 0.36 uses.

    /api/models/{org}/{name}/revision/{rev}   model info: sha + siblings (size, blobId, lfs.sha256)
    /api/models/{org}/{name}/refs             branches and tags
    /{org}/{name}/resolve/{rev}/{file}        HEAD/GET; small files: 200 + ETag (git blob id);
                                              LFS files: 302 to /lfs/... + X-Linked-Etag (sha256) / X-Linked-Size
    /lfs/{sha256}?repo=..&file=..             the LFS object, with Range support (206 + Content-Range)

Errors carry the hub's X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound) so the client raises
its own typed errors. Faults for the tests: drop the connection part-way through a file, or serve a
corrupted copy (same size, wrong sha256), a given number of times. Every request is logged.
The server binds 127.0.0.1 on an ephemeral port, runs in a daemon thread, each connection has a socket
timeout and the total number of requests is capped; `stop()` shuts it down.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".bin", ".model")
MAX_REQUESTS = 5000


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Repo:
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    gated: frozenset[str] | None = None   # tokens allowed to download (None: not gated)


@dataclass
class Fault:
    drop_after: int | None = None   # close the connection after this many body bytes
    corrupt: bool = False           # flip one byte (same size, wrong sha256)
    delay: float = 0.0              # seconds to wait before the body (to make pulls overlap)
    times: int = 1


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.faults: dict[tuple[str, str], Fault] = {}
        self.log: list[dict] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- content ---------------------------------------------------------------------------------

    def add_commit(self, repo_id: str, files: dict[str, bytes], branches: tuple[str, ...] = ("main",),
                   tags: tuple[str, ...] = ()) -> str:
        repo = self.repos.setdefault(repo_id, Repo())
        digest = hashlib.sha1(repo_id.encode() + str(len(repo.commits)).encode())
        for name in sorted(files):
            digest.update(name.encode() + hashlib.sha256(files[name]).digest())
        commit = digest.hexdigest()
        repo.commits[commit] = dict(files)
        repo.branches.update(dict.fromkeys(branches, commit))
        repo.tags.update(dict.fromkeys(tags, commit))
        return commit

    def add_folder(self, repo_id: str, folder: Path, extra: dict[str, bytes] | None = None, **refs) -> str:
        files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
        return self.add_commit(repo_id, {**files, **(extra or {})}, **refs)

    def gate(self, repo_id: str, allowed_tokens: tuple[str, ...] = ()) -> None:
        """Make a repository gated, as the hub does for Llama: metadata public, downloads 401 without a token
        and 403 with a token whose account has not accepted the terms."""
        self.repos[repo_id].gated = frozenset(allowed_tokens)

    def fault(self, repo_id: str, filename: str, **kwargs) -> None:
        self.faults[(repo_id, filename)] = Fault(**kwargs)

    def requests(self, method: str | None = None, contains: str = "") -> list[dict]:
        with self._lock:
            return [r for r in self.log if (method is None or r["method"] == method) and contains in r["path"]]

    # -- server ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the hub first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            fake = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- lookups the handler uses ----------------------------------------------------------------

    def commit_for(self, repo: Repo, revision: str) -> str | None:
        if revision in repo.commits:
            return revision
        return repo.branches.get(revision) or repo.tags.get(revision)

    def take_fault(self, repo_id: str, filename: str) -> Fault | None:
        with self._lock:
            fault = self.faults.get((repo_id, filename))
            if fault is None or fault.times <= 0:
                return None
            fault.times -= 1
            return fault


def _is_lfs(name: str, data: bytes) -> bool:
    return name.endswith(LFS_SUFFIXES) or len(data) > 100_000


class _Handler(BaseHTTPRequestHandler):
    fake: FakeHub
    timeout = 10                       # a stuck client cannot hold a handler thread forever
    protocol_version = "HTTP/1.0"      # one request per connection: simple, and a drop is a real drop

    def log_message(self, format, *args) -> None:  # noqa: A002 - BaseHTTPRequestHandler's signature
        pass

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def do_GET(self) -> None:
        self._dispatch(head=False)

    # -- routing ---------------------------------------------------------------------------------

    def _dispatch(self, head: bool) -> None:
        parts = urlsplit(self.path)
        with self.fake._lock:
            self.fake.log.append({"method": self.command, "path": unquote(parts.path),
                                  "range": self.headers.get("Range"), "auth": self.headers.get("Authorization")})
            too_many = len(self.fake.log) > MAX_REQUESTS
        if too_many:
            return self._error(503, "TooManyRequests", "request cap reached")
        segments = [unquote(s) for s in parts.path.split("/")[1:]]
        if segments[:2] == ["api", "models"] and len(segments) >= 5:
            repo_id = "/".join(segments[2:4])
            if segments[4] == "refs":
                return self._refs(repo_id)
            if segments[4] == "revision" and len(segments) == 6:
                return self._info(repo_id, segments[5])
        if segments[:1] == ["lfs"] and len(segments) == 2:
            query = parse_qs(parts.query)
            return self._lfs(segments[1], query.get("repo", [""])[0], query.get("file", [""])[0], head)
        if len(segments) >= 5 and segments[2] == "resolve":
            return self._resolve("/".join(segments[:2]), segments[3], "/".join(segments[4:]), head)
        return self._error(404, None, "no such route")

    def _repo(self, repo_id: str):
        repo = self.fake.repos.get(repo_id)
        if repo is None:
            self._error(404, "RepoNotFound", "Repository not found")
        return repo

    def _info(self, repo_id: str, revision: str) -> None:
        repo = self._repo(repo_id)
        if repo is None:
            return
        commit = self.fake.commit_for(repo, revision)
        if commit is None:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        siblings = []
        for name, data in sorted(repo.commits[commit].items()):
            sibling = {"rfilename": name, "size": len(data), "blobId": git_blob_sha1(data)}
            if _is_lfs(name, data):
                pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{hashlib.sha256(data).hexdigest()}"
                sibling["blobId"] = git_blob_sha1(pointer.encode())
                sibling["lfs"] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                                  "pointerSize": len(pointer)}
            siblings.append(sibling)
        self._json({"_id": commit[:24], "id": repo_id, "modelId": repo_id, "sha": commit, "private": False,
                    "siblings": siblings})

    def _refs(self, repo_id: str) -> None:
        repo = self._repo(repo_id)
        if repo is None:
            return
        self._json({
            "branches": [{"name": n, "ref": f"refs/heads/{n}", "targetCommit": c} for n, c in repo.branches.items()],
            "converts": [],
            "tags": [{"name": n, "ref": f"refs/tags/{n}", "targetCommit": c} for n, c in repo.tags.items()],
        })

    def _resolve(self, repo_id: str, revision: str, filename: str, head: bool) -> None:
        repo = self._repo(repo_id)
        if repo is None:
            return
        if repo.gated is not None:
            auth = self.headers.get("Authorization") or ""
            if not auth:
                return self._error(401, "GatedRepo", f"Access to model {repo_id} is restricted. You must have "
                                                     "access to it and be authenticated to access it. Please log in.")
            if auth.removeprefix("Bearer ") not in repo.gated:
                return self._error(403, "GatedRepo", f"Access to model {repo_id} is restricted and you are not in "
                                                     "the authorized list. Visit the model page to ask for access.")
        commit = self.fake.commit_for(repo, revision)
        if commit is None:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        data = repo.commits[commit].get(filename)
        if data is None:
            return self._error(404, "EntryNotFound", "Entry not found", {"X-Repo-Commit": commit})
        if _is_lfs(filename, data):
            sha256 = hashlib.sha256(data).hexdigest()
            host, port = self.server.server_address[:2]
            location = f"http://{host}:{port}/lfs/{sha256}?repo={quote(repo_id, safe='')}&file={quote(filename)}"
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("X-Repo-Commit", commit)
            self.send_header("ETag", f'"{git_blob_sha1(data[:10])}"')
            self.send_header("X-Linked-Etag", f'"{sha256}"')
            self.send_header("X-Linked-Size", str(len(data)))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._body(data, repo_id, filename, head, {"ETag": f'"{git_blob_sha1(data)}"', "X-Repo-Commit": commit})

    def _lfs(self, sha256: str, repo_id: str, filename: str, head: bool) -> None:
        repo = self.fake.repos.get(repo_id)
        for files in repo.commits.values() if repo else ():
            data = files.get(filename)
            if data is not None and hashlib.sha256(data).hexdigest() == sha256:
                return self._body(data, repo_id, filename, head, {"ETag": f'"{sha256}"'})
        self._error(404, None, "no such object")

    # -- responses -------------------------------------------------------------------------------

    def _body(self, data: bytes, repo_id: str, filename: str, head: bool, headers: dict[str, str]) -> None:
        start = 0
        status = 200
        requested = self.headers.get("Range")
        if requested and requested.startswith("bytes=") and not head:
            first, _, last = requested[len("bytes="):].partition("-")
            start = int(first or 0)
            end = int(last) + 1 if last else len(data)
            if start >= len(data):
                return self._error(416, None, "range not satisfiable")
            status, data_slice = 206, data[start:end]
            headers = {**headers, "Content-Range": f"bytes {start}-{end - 1}/{len(data)}"}
        else:
            data_slice = data
        fault = None if head else self.fake.take_fault(repo_id, filename)
        if fault is not None and fault.corrupt:
            data_slice = bytes([data_slice[0] ^ 0xFF]) + data_slice[1:]
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(data_slice)))
        self.end_headers()
        if head:
            return
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.drop_after is not None:
            self.wfile.write(data_slice[:fault.drop_after])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)   # mid-file: the client sees a short body
            self.close_connection = True
            return
        self.wfile.write(data_slice)

    def _json(self, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, code: str | None, message: str, extra: dict[str, str] | None = None) -> None:
        body = json.dumps({"error": message}).encode()
        self.send_response(status)
        if code:
            self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

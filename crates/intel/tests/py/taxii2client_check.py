"""taxii2-client (OASIS) as a real client against Rampart's TAXII server: discover, list
collections, add objects and wait for the status, page, filter, manifest, versions, and a
viewer refused writing. Run by crates/intel/tests/taxii_server.rs; prints one line at the end."""
import sys
import uuid

import requests
from taxii2client.exceptions import AccessError, TAXIIServiceException
from taxii2client.v21 import Collection, Server, as_pages


class Bearer(requests.auth.AuthBase):
    def __init__(self, token):
        self.token = token

    def __call__(self, r):
        r.headers["Authorization"] = "Bearer " + self.token
        return r


def indicator(value, modified="2026-01-01T00:00:00.000Z", ident=None):
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": ident or "indicator--" + str(uuid.uuid4()),
        "created": "2026-01-01T00:00:00.000Z",
        "modified": modified,
        "pattern": "[ipv4-addr:value = '%s']" % value,
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
    }


def main():
    url, analyst, viewer = sys.argv[1:4]
    server = Server(url, auth=Bearer(analyst))
    assert server.title == "Rampart TAXII", server.title
    root = server.default
    assert root is not None and root.url.endswith("/taxii2/api/"), root
    assert "application/taxii+json;version=2.1" in root.versions
    cols = {c.title: c for c in root.collections}
    assert "rampart-indicators" in cols, list(cols)
    col = cols["rampart-indicators"]
    assert col.can_read and col.can_write

    twice = "indicator--" + str(uuid.uuid4())
    objects = [indicator("198.51.100.%d" % i) for i in range(1, 6)]
    objects.append(indicator("198.51.100.99", ident=twice))
    status = col.add_objects({"objects": objects})
    assert status.status == "complete", status.status
    assert status.success_count == 6 and status.failure_count == 0, (status.success_count, status.failures)
    # A second version of one object, and a broken object.
    status = col.add_objects({"objects": [
        indicator("198.51.100.99", modified="2026-02-01T00:00:00.000Z", ident=twice),
        {"type": "indicator", "id": "not-an-id"},
    ]})
    assert status.success_count == 1 and status.failure_count == 1, (status.successes, status.failures)
    # The status resource, fetched again through its URL.
    status.refresh()
    assert status.status == "complete"

    # Paging: latest versions only, two per page.
    pages = list(as_pages(col.get_objects, per_request=2))
    got = [o for p in pages for o in p.get("objects", [])]
    assert len(got) == 6, len(got)
    assert len(pages) == 3, len(pages)
    assert len({o["id"] for o in got}) == 6
    # Filters.
    env = col.get_objects(id=twice, version="all")
    assert len(env["objects"]) == 2, env
    env = col.get_objects(id=twice, version="first")
    assert env["objects"][0]["modified"] == "2026-01-01T00:00:00.000Z"
    env = col.get_object(twice)
    assert env["objects"][0]["modified"] == "2026-02-01T00:00:00.000Z"
    env = col.get_objects(type="malware")
    assert not env.get("objects"), env
    env = col.get_objects(type="indicator", spec_version="2.1", limit=100)
    assert len(env["objects"]) == 6 and env["more"] is False
    versions = col.object_versions(twice)
    assert len(versions["versions"]) == 2, versions
    manifest = [o for p in as_pages(col.get_manifest, per_request=4) for o in p.get("objects", [])]
    assert len(manifest) == 6 and all(m["media_type"] == "application/stix+json;version=2.1" for m in manifest)
    # added_after: what came after the third object.
    first3 = col.get_objects(limit=3)
    later = col.get_objects(added_after=manifest[2]["date_added"])
    assert len(later["objects"]) == 3, later
    assert first3["more"] is True

    # A viewer reads but may not write.
    vcol = Collection(col.url, auth=Bearer(viewer))
    assert vcol.can_read and not vcol.can_write
    assert len(vcol.get_objects()["objects"]) == 6
    try:
        vcol.add_objects({"objects": [indicator("192.0.2.1")]})
        raise SystemExit("a viewer could write")
    except AccessError:
        pass
    # A wrong token.
    try:
        Server(url, auth=Bearer("nope")).title
        raise SystemExit("a wrong token was let in")
    except (TAXIIServiceException, requests.exceptions.HTTPError):
        pass
    print("taxii2-client: all checks passed")


if __name__ == "__main__":
    main()

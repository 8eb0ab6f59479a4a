"""A small `mc` (MinIO client) for the S3 stand-in image.

Subcommands: alias set NAME URL ACCESS SECRET | alias ls, mb [-p|--ignore-existing]
ALIAS/BUCKET..., ready ALIAS, ls ALIAS[/BUCKET[/PREFIX]]. The alias `local`
(http://localhost:9000 with MINIO_ROOT_USER / MINIO_ROOT_PASSWORD) always exists.
"""

import json
import os
import sys
import urllib.request


def config_path():
    base = os.environ.get("MC_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".mc")
    return os.path.join(base, "config.json")


def load_aliases():
    aliases = {
        "local": {
            "url": "http://localhost:9000",
            "accessKey": os.environ.get("MINIO_ROOT_USER", "minioadmin"),
            "secretKey": os.environ.get("MINIO_ROOT_PASSWORD", "minioadmin"),
        }
    }
    try:
        with open(config_path(), encoding="utf-8") as fh:
            aliases.update(json.load(fh).get("aliases", {}))
    except (OSError, ValueError):
        pass
    return aliases


def save_alias(name, url, access, secret):
    path = config_path()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        with open(path, encoding="utf-8") as fh:
            cfg = json.load(fh)
    except (OSError, ValueError):
        cfg = {"version": "10", "aliases": {}}
    cfg.setdefault("aliases", {})[name] = {"url": url, "accessKey": access, "secretKey": secret, "api": "s3v4", "path": "auto"}
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(cfg, fh, indent=2)
    os.chmod(path, 0o600)


def client(alias):
    import boto3
    from botocore.config import Config

    a = load_aliases().get(alias)
    if a is None:
        die(f"mc: alias '{alias}' is not set (mc alias set {alias} URL ACCESS SECRET)")
    return boto3.client(
        "s3",
        endpoint_url=a["url"],
        aws_access_key_id=a["accessKey"],
        aws_secret_access_key=a["secretKey"],
        region_name=os.environ.get("MINIO_REGION", "us-east-1"),
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


def die(msg, code=1):
    print(msg, file=sys.stderr)
    sys.exit(code)


def split_target(target):
    alias, _, rest = target.partition("/")
    bucket, _, prefix = rest.partition("/")
    return alias, bucket, prefix


def cmd_alias(args):
    if args[:1] == ["set"] and len(args) >= 5:
        save_alias(args[1], args[2].rstrip("/"), args[3], args[4])
        print(f"Added `{args[1]}` successfully.")
        return 0
    if args[:1] in (["ls"], ["list"]):
        for name, a in load_aliases().items():
            print(f"{name}\n  URL       : {a['url']}\n  AccessKey : {a['accessKey']}\n")
        return 0
    die("usage: mc alias set NAME URL ACCESSKEY SECRETKEY | mc alias ls", 2)


def cmd_mb(args):
    ignore = False
    targets = []
    for a in args:
        if a in ("-p", "--ignore-existing"):
            ignore = True
        elif a.startswith("-"):
            continue
        else:
            targets.append(a)
    if not targets:
        die("usage: mc mb [--ignore-existing] ALIAS/BUCKET...", 2)
    for t in targets:
        alias, bucket, _ = split_target(t)
        c = client(alias)
        try:
            c.head_bucket(Bucket=bucket)
            exists = True
        except c.exceptions.ClientError:
            exists = False
        if exists:
            if not ignore:
                die(f"mc: Unable to make bucket `{t}`. Your previous request to create the named bucket succeeded and you already own it.")
            print(f"Bucket already exists `{t}`.")
            continue
        try:
            c.create_bucket(Bucket=bucket)
            print(f"Bucket created successfully `{t}`.")
        except c.exceptions.BucketAlreadyOwnedByYou:
            if not ignore:
                die(f"mc: Unable to make bucket `{t}`. Your previous request to create the named bucket succeeded and you already own it.")
            print(f"Bucket already exists `{t}`.")
        except c.exceptions.BucketAlreadyExists:
            if not ignore:
                die(f"mc: Unable to make bucket `{t}`. The requested bucket name is not available.")
            print(f"Bucket already exists `{t}`.")
        except c.exceptions.ClientError as exc:
            die(f"mc: Unable to make bucket `{t}`. {exc.response.get('Error', {}).get('Message', exc)}")
    return 0


def cmd_ready(args):
    names = [a for a in args if not a.startswith("-")]
    if not names:
        die("usage: mc ready ALIAS", 2)
    a = load_aliases().get(names[0])
    if a is None:
        die(f"mc: alias '{names[0]}' is not set")
    try:
        with urllib.request.urlopen(a["url"] + "/minio/health/ready", timeout=5) as r:
            ok = r.status == 200
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        die(f"The cluster is unreachable: {exc}")
    if not ok:
        die("The cluster is not ready")
    print(f"The cluster '{names[0]}' is ready")
    return 0


def cmd_ls(args):
    names = [a for a in args if not a.startswith("-")]
    if not names:
        die("usage: mc ls ALIAS[/BUCKET[/PREFIX]]", 2)
    alias, bucket, prefix = split_target(names[0])
    c = client(alias)
    if not bucket:
        for b in c.list_buckets().get("Buckets", []):
            print(f"[{b['CreationDate']:%Y-%m-%d %H:%M:%S}]      0B {b['Name']}/")
        return 0
    paginator = c.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            print(f"[{o['LastModified']:%Y-%m-%d %H:%M:%S}] {o['Size']:>7}B {o['Key']}")
    return 0


def main(argv):
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    cmd, args = argv[0], argv[1:]
    handlers = {"alias": cmd_alias, "mb": cmd_mb, "ready": cmd_ready, "ls": cmd_ls}
    if cmd not in handlers:
        die(f"mc (stand-in): unsupported command '{cmd}'", 2)
    try:
        return handlers[cmd](args)
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - report like mc, no traceback
        die(f"mc: <ERROR> {exc}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

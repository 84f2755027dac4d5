"""Writes link/hot-text.ld from callgrind profiles of cold starts (see link/profile).

Each run is one configuration's cold start and its requests, profiled with `--dump-every-bb`, so the dump in
which a function first has a cost says when it first ran. The script lists, configuration by configuration in
the order below, the functions not listed yet, in the order they first ran: the functions of the commonest
start (HS256, and the public route of the same configuration) come first and together, then what RS256 with
a supplied key set adds, then a JWKS fetched over plain http, then over TLS, and so on. Each becomes a section
pattern (`.text.<symbol>`, or `.text.unlikely.<symbol>` where LLVM put a cold function) without the hashes a
new toolchain, dependency version or build profile changes; so every instance of a generic function goes where
its first one ran.

Assembly has no section per function: where a function that ran is one, its object file's `.text` goes there
whole (aws-lc's SHA-256, X25519, AES-GCM: the archives to look in are the arguments after the profiles).

Usage: python3 link/hot_text.py PROFILE_DIR [ARCHIVE.a ...] > link/hot-text.ld
"""

import collections
import ipaddress
import os
import re
import subprocess
import sys
import urllib.parse


def fetches_by_name(env):
    """Whether the run's JWKS URL names its host, as a tenant's does, rather than giving an IP address."""
    host = urllib.parse.urlsplit(env.get("AUTH0_JWKS_URL", "")).hostname
    if not host:
        return False
    try:
        ipaddress.ip_address(host)
        return False
    except ValueError:
        return True


# Configurations by priority, recognised by the binary and the variables the benchmark set for them. Each
# runs nearly all of the code of the one before it, so each one's code is one stretch from the start.
PRIORITY = [
    ("api, HS256 secret in the environment", "auth0-lambda-api", lambda env: "AUTH0_CLIENT_SECRET" in env),
    ("api, RS256 with a supplied key set", "auth0-lambda-api", lambda env: "AUTH0_JWKS" in env),
    ("api, RS256 with the JWKS over plain http", "auth0-lambda-api",
     lambda env: env.get("AUTH0_JWKS_URL", "").startswith("http:")),
    ("api, RS256 with the JWKS over TLS", "auth0-lambda-api",
     lambda env: env.get("AUTH0_JWKS_URL", "").startswith("https:") and not fetches_by_name(env)
     and "AUTH0_JWKS" not in env),
    # As in production, where the URL names the tenant: the host name is resolved first.
    ("api, RS256 with the JWKS over TLS from a host name", "auth0-lambda-api",
     lambda env: fetches_by_name(env) and "AUTH0_JWKS" not in env),
    ("api, the secret from Secrets Manager", "auth0-lambda-api", lambda env: "AUTH0_CLIENT_SECRET_ARN" in env),
    ("authorizer, HS256", "auth0-lambda-authorizer", lambda env: "AUTH0_CLIENT_SECRET" in env),
    ("authorizer, RS256 with the JWKS over TLS", "auth0-lambda-authorizer", lambda env: "AUTH0_JWKS_URL" in env),
]

# valgrind emulates neither ADX/BMI2 nor AVX-512, so under callgrind aws-lc runs the fallbacks of the assembly
# it chooses by CPU; a Lambda CPU (and this one) runs the twin beside each.
NATIVE_TWINS = {
    "curve25519_x25519_alt.o": ["curve25519_x25519.o"],
    "curve25519_x25519base_alt.o": ["curve25519_x25519base.o"],
    "aesni-gcm-x86_64.o": ["aesni-gcm-avx512.o"],
}

# Assembly objects larger than this go last (aws-lc's AES-GCM for AVX-512 is 700 KB).
LARGE = 128 * 1024

# callgrind's name for the C library's entry point.
BELOW_MAIN = {"(below main)": "__libc_start_main"}

NAME = re.compile(r"^c?(ob|fn)=\((\d+)\)(?: (.*))?$")


def first_runs(files):
    """Every function that has a cost in the dumps, with (dump, position) of its first. (The bootstrap is static:
    its code is all there is, and valgrind names the object of a section other than `.text` "???".)"""
    first = {}
    names = {"ob": {}, "fn": {}}  # callgrind names a string once per run, in the first dump that has it
    for dump, path in files:
        current_ob = None
        position = 0
        with open(path, errors="replace") as lines:
            for line in lines:
                match = NAME.match(line.rstrip("\n"))
                if not match:
                    continue
                kind, number, name = match.groups()
                if name is not None:
                    names[kind][number] = name
                name = names[kind].get(number)
                if line.startswith("ob="):
                    current_ob = name
                elif line.startswith("fn=") and current_ob != "[vdso]" and name:
                    position += 1
                    first.setdefault(name, (dump, position))
    return first


def pattern(symbol):
    """The section-name pattern of a symbol, or None for what has no section of its own."""
    symbol = re.sub(r"'\d+$", "", symbol)  # callgrind's recursion marker
    if symbol.startswith(("0x", "(")):
        return None
    symbol = re.sub(r"\.llvm\.\d+$", "", symbol)
    symbol = re.sub(r"\.\d+$", "", symbol)  # a local copy, renamed by LTO
    if symbol.startswith("_ZN"):  # legacy mangling: the hash ends the name
        symbol = re.sub(r"17h[0-9a-f]{16}E$", "17h*", symbol)
    elif symbol.startswith("_R"):  # v0 mangling (the standard library): crate disambiguators
        symbol = re.sub(r"Cs[0-9A-Za-z]+_", "Cs*_", symbol)
    # aws-lc's symbols carry its version.
    symbol = re.sub(r"^(AWS_LC_TRAMPOLINE_)?aws_lc_\d+_\d+_\d+_", lambda m: (m.group(1) or "") + "aws_lc_*_", symbol)
    return symbol


def section_names(symbol):
    """The input sections of a symbol's pattern: `.text.<symbol>`, or `.text.unlikely.<symbol>` for a function
    LLVM deems cold, with a local copy's `.<n>` suffix for a Rust symbol."""
    if symbol.startswith(("_ZN", "_R")):
        # A mangled name does not occur inside another symbol's, so one pattern covers both prefixes.
        return f".text.*{symbol.rstrip('*')}*"
    return f".text.{symbol} .text.unlikely.{symbol}"


def assembly_objects(archives):
    """For each function defined in an archive member that has no section of its own (aws-lc's assembly, which
    puts all its functions in `.text`): the member's name, unhashed; and the size of each member's `.text`."""
    sections = collections.defaultdict(set)
    text_sizes = {}
    member = None
    for archive in archives:
        listing = subprocess.run(["readelf", "-SW", archive], capture_output=True, text=True, check=True).stdout
        for line in listing.splitlines():
            header = re.match(r"^File: .*\((.*)\)$", line)
            if header:
                member = header.group(1)
            section = re.match(r"^\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)", line)
            if section and member:
                sections[member].add(section.group(1))
                if section.group(1) == ".text":
                    text_sizes[member] = int(section.group(2), 16)
    objects = {}
    for archive in archives:
        symbols = subprocess.run(
            ["nm", "-A", "--defined-only", archive], capture_output=True, text=True, check=True
        ).stdout
        for line in symbols.splitlines():
            match = re.match(r"^.*:(.*\.o):\s*[0-9a-f]*\s+[Tt]\s+(\S+)$", line)
            if match:
                name, function = match.groups()
                if ".text" in sections[name] and f".text.{function}" not in sections[name]:
                    objects[function] = unhashed(name)
    return objects, {unhashed(name): size for name, size in text_sizes.items()}


def unhashed(member):
    """An archive member's name without the hash prefix cc-rs gives it."""
    return re.sub(r"^[0-9a-f]{16}-", "", member)


def main(directory, archives):
    assembly, sizes = assembly_objects(archives)
    runs = collections.defaultdict(list)
    binaries = {}
    environments = {}
    for entry in os.listdir(directory):
        match = re.match(r"^(.*)\.(\d+)\.out\.(\d+)$", entry)
        if match:
            binary, pid, dump = match.groups()
            runs[pid].append((int(dump), os.path.join(directory, entry)))
            binaries[pid] = binary
        match = re.match(r"^(\d+)\.env$", entry)
        if match:
            with open(os.path.join(directory, entry)) as lines:
                environments[match.group(1)] = dict(
                    line.rstrip("\n").split("=", 1) for line in lines if "=" in line
                )

    ordered = []
    for label, binary, matches in PRIORITY:
        pids = sorted(
            (pid for pid in runs if binaries[pid] == binary and matches(environments.get(pid, {}))), key=int
        )
        if not pids:
            sys.exit(f"no profile of the configuration: {label}")
        for pid in pids:
            first = first_runs(sorted(runs.pop(pid)))
            ordered.append((label, sorted(first, key=first.get)))

    seen = set()
    large = []
    print("/* The code cold starts run, laid out first and together (see build.rs). Made by link/profile; do not")
    print("   edit. A pattern the build has no section for matches nothing. */")
    print("SECTIONS")
    print("{")
    print("  .text.hot :")
    print("  {")
    for label, functions in ordered:
        lines = []
        for function in functions:
            function = BELOW_MAIN.get(function, function)
            destination = lines
            if function in assembly:
                objects = [assembly[function], *NATIVE_TWINS.get(assembly[function], [])]
                entry = "\n".join(f"    *[0-9a-f]-{name}(.text)" for name in objects)
                if sum(sizes.get(name, 0) for name in objects) > LARGE:
                    destination = large
            else:
                section = pattern(function)
                entry = section and f"    *({section_names(section)})"
            if entry and entry not in seen:
                seen.add(entry)
                destination.append(entry)
        print(f"    /* {label}: {len(lines)} */")
        print("\n".join(lines))
    # Last: a large object would push every configuration after the one that runs it away from the start.
    print(f"    /* large assembly objects: {len(large)} */")
    print("\n".join(large))
    print("  }")
    print("}")
    print("INSERT BEFORE .text;")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])

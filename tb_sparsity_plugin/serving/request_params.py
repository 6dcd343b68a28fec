"""The plugin's request parameters: each read once, checked, and turned into a clear 400.

Every data route takes its parameters through these functions, so a repeated, overlong or
NUL-holding parameter, or a number that is not one, is an InvalidArgumentError (HTTP 400)
with a sentence naming the parameter, never a 500.
"""

import re

from tensorboard import errors

MAX_PARAM_LENGTH = 1000


def file_stem(run):
    """A file name made of a run name: letters, digits, '.', '-', '_' only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", run).strip("._")[:100] or "run"


def choice(request, name, allowed, default):
    value = single(request, name, required=False)
    if value is None:
        return default
    if value not in allowed:
        raise errors.InvalidArgumentError(
            "%s: must be one of %s" % (name, ", ".join(sorted(allowed))))
    return value


def flag(request, name):
    """A `name=0|1` parameter (absent: 0) as a bool."""
    return choice(request, name, ("0", "1"), "0") == "1"


def shorten(text, limit=80):
    return text if len(text) <= limit else text[:limit] + "…"


def single(request, name, required=True):
    values = request.args.getlist(name)
    if not values:
        if required:
            raise errors.InvalidArgumentError("%s: missing parameter" % name)
        return None
    if len(values) > 1:
        raise errors.InvalidArgumentError("%s: given %d times, expected once" % (name, len(values)))
    _check_value(name, values[0])
    return values[0]


def several(request, name, limit):
    """The values of a repeated parameter (at least one, at most `limit`), duplicates
    dropped, each checked as `single` checks one."""
    values = request.args.getlist(name)
    if not values:
        raise errors.InvalidArgumentError("%s: missing parameter" % name)
    if len(values) > limit:
        raise errors.InvalidArgumentError(
            "%s: given %d times, at most %d allowed" % (name, len(values), limit))
    for value in values:
        _check_value(name, value)
    return list(dict.fromkeys(values))


def _check_value(name, value):
    if len(value) > MAX_PARAM_LENGTH:
        raise errors.InvalidArgumentError(
            "%s: longer than %d characters" % (name, MAX_PARAM_LENGTH)
        )
    if "\x00" in value:
        raise errors.InvalidArgumentError("%s: contains a NUL character" % name)


def number(request, name):
    text = single(request, name)
    try:
        value = float(text)
    except ValueError:
        raise errors.InvalidArgumentError("%s: not a number: %r" % (name, shorten(text)))
    if value != value or value in (float("inf"), float("-inf")):
        raise errors.InvalidArgumentError("%s: must be finite" % name)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def integer(request, name, lowest, highest, required=True):
    text = single(request, name, required)
    if text is None:
        return None
    try:
        value = int(text.strip())
    except ValueError:
        raise errors.InvalidArgumentError("%s: not an integer: %r" % (name, shorten(text)))
    if not lowest <= value <= highest:
        raise errors.InvalidArgumentError("%s: must be in [%d, %d]" % (name, lowest, highest))
    return value

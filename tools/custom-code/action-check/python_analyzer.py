"""Checks Python custom code actions with the ast module.

Reads {"files": [{"path": ..., "source": ...}]} on stdin and writes one JSON object on stdout:
{"standardLibrary": [...], "results": {path: {"findings": [...], "facts": {...}}}}.
Findings are the Python-only rules; facts (imports, string literals, random values, returned
outputs) are judged by the caller, the same way as for JavaScript.
"""

import ast
import json
import re
import string
import sys

HTTP_METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}
RANDOM_CALLS = {
    "random.random",
    "random.randint",
    "random.randrange",
    "random.choice",
    "random.getrandbits",
    "random.uniform",
    "uuid.uuid1",
    "uuid.uuid4",
    "secrets.token_hex",
    "secrets.token_urlsafe",
    "os.urandom",
}
QUOTING = {"urllib.parse.quote", "urllib.parse.quote_plus"}
SLEEPS = {"time.sleep", "asyncio.sleep"}
TRUSTED_OBJECT_FIELDS = {"objectId", "objectType"}
STRING_METHODS = {"lower", "upper", "strip", "lstrip", "rstrip", "join", "replace", "format", "title", "capitalize", "zfill"}
DATE_TEXT_METHODS = {"isoformat", "strftime", "ctime"}
BOOL_METHODS = {"startswith", "endswith", "isdigit", "isalpha", "isnumeric"}
NUMBER_METHODS = {"count", "index", "find", "timestamp"}
MAX_DEPTH = 4
LOOP_SLEEP_S = 1
TOTAL_SLEEP_WARNING_S = 5
BUDGET_S = 20
HOST_IS_FIXED = re.compile(r"^(?:[a-z][a-z0-9+.-]*://[^/?#]+|\x00|/[^/?#]+)[/?#]", re.IGNORECASE)
PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[sdifrxXeEgGc%]")
RANK = {"none": 0, "object-id": 1, "object": 2, "input": 3}
LOOPS = (ast.For, ast.AsyncFor, ast.While)
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)

FIXES = {
    "unhandled": "wrap it in try/except requests.RequestException and return a fallback output for the failures the action can absorb",
    "timeout": "pass `timeout=5` (seconds)",
    "per_item": "use a batch API (HubSpot batch read and update take 100 records a call), or enqueue an Offload job for the work and poll it",
    "sleeping": "do not wait inside the action: hand the waiting work to an Offload job",
    "busy": "give the loop an end: change what it tests, or break after a bounded number of rounds; long waiting work belongs in an Offload job",
    "host": "call a fixed host; if it must vary, check urllib.parse.urlparse(url).hostname against an allowlist before the call",
    "path": "quote the value with urllib.parse.quote(value, safe='') before putting it in the URL",
}


class Analyzer:
    def __init__(self, source, tree):
        self.source = source
        self.lines = source.splitlines()
        self.tree = tree
        self.findings = []
        self.parents = {}
        self.nodes = []
        for node in ast.walk(tree):
            self.nodes.append(node)
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
        self.nodes.sort(key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0)))
        self.aliases = self.import_aliases()
        self.assignments, self.rebound = self.bindings()
        self.functions = {}
        for node in self.nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions.setdefault(node.name, []).append(node)
        self.main = self.function_named("main")
        self.event_names = {self.main.args.args[0].arg} if self.main and self.main.args.args else {"event"}
        self.inputs_aliases = set()
        self.object_aliases = set()
        self.input_variables = {}
        self.model_event()
        self.sessions, self.clients = self.model_libraries()
        self.network_functions = {}

    # ------------------------------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------------------------------

    def position(self, node):
        line = self.lines[node.lineno - 1] if node.lineno - 1 < len(self.lines) else ""
        column = len(line.encode("utf-8")[: node.col_offset].decode("utf-8", "replace"))
        return {"line": node.lineno, "column": column + 1}

    def text(self, node, limit=60):
        segment = " ".join((ast.get_source_segment(self.source, node) or "").split())
        return segment if len(segment) <= limit else segment[: limit - 1] + "…"

    def report(self, node, rule, severity, message, fix):
        self.findings.append({**self.position(node), "rule": rule, "severity": severity, "message": message, "fix": fix})

    def import_aliases(self):
        aliases = {}
        for node in self.nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        aliases[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        aliases[top] = top
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        return aliases

    def qualified(self, node):
        """The dotted name an expression stands for, through imports: `rq.get` after `import requests as rq` is requests.get."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            owner = self.qualified(node.value)
            return f"{owner}.{node.attr}" if owner else None
        return None

    def bindings(self):
        assignments, rebound = {}, set()
        for node in self.nodes:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        assignments.setdefault(target.id, []).append(node.value)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                assignments.setdefault(node.target.id, []).append(node.value)
            elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                rebound.add(node.target.id)
            elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
                for name in ast.walk(node.target):
                    if isinstance(name, ast.Name):
                        rebound.add(name.id)
        return assignments, rebound

    def value_of(self, name):
        """The value a name always holds: its one assignment, when it is never bound again."""
        values = self.assignments.get(name, [])
        return values[0] if len(values) == 1 and name not in self.rebound else None

    def function_named(self, name):
        found = self.functions.get(name, [])
        return found[0] if len(found) == 1 else None

    def calls_of(self, name):
        return [n for n in self.nodes if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name]

    def under(self, root):
        """Every node under root, nested functions included."""
        stack = list(ast.iter_child_nodes(root))
        while stack:
            node = stack.pop()
            yield node
            stack.extend(ast.iter_child_nodes(node))

    def enclosing_function(self, node):
        current = self.parents.get(node)
        while current is not None and not isinstance(current, FUNCTIONS):
            current = self.parents.get(current)
        return current

    def inside_try(self, node):
        current = node
        while current in self.parents and not isinstance(current, FUNCTIONS):
            parent = self.parents[current]
            if isinstance(parent, ast.Try) and current in parent.body:
                return True
            current = parent
        return False

    # ------------------------------------------------------------------------------------------
    # The event
    # ------------------------------------------------------------------------------------------

    def is_event(self, node):
        return isinstance(node, ast.Name) and node.id in self.event_names

    def event_part(self, node, part, aliases):
        if isinstance(node, ast.Name):
            return node.id in aliases
        if isinstance(node, ast.Subscript) and self.is_event(node.value):
            return constant_string(node.slice) == part
        if is_get_call(node) and self.is_event(node.func.value):
            return constant_string(node.args[0]) == part
        return False

    def is_inputs(self, node):
        return self.event_part(node, "inputFields", self.inputs_aliases)

    def is_object(self, node):
        return self.event_part(node, "object", self.object_aliases)

    def field_of(self, node, owner_test):
        """The key read from a dict-like part of the event: x["a"], or x.get("a") without a default."""
        if isinstance(node, ast.Subscript) and owner_test(node.value):
            return constant_string(node.slice)
        if is_get_call(node) and len(node.args) == 1 and not node.keywords and owner_test(node.func.value):
            return constant_string(node.args[0])
        return None

    def input_key(self, node):
        field = self.field_of(node, self.is_inputs)
        if field is not None:
            return f"field:{field}"
        if isinstance(node, ast.Name) and node.id in self.input_variables:
            return f"var:{node.id}"
        return None

    def model_event(self):
        for node in self.nodes:
            if not isinstance(node, ast.Assign) or len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
                continue
            name = node.targets[0].id
            if self.is_inputs(node.value):
                self.inputs_aliases.add(name)
            elif self.is_object(node.value):
                self.object_aliases.add(name)
            else:
                field = self.field_of(node.value, self.is_inputs)
                if field is not None:
                    self.input_variables[name] = field

    def taint_of(self, node, depth=0):
        taint = "none"
        for inner in [node, *self.under(node)]:
            found = "none"
            if self.is_inputs(inner) or self.input_key(inner):
                found = "input"
            elif self.field_of(inner, self.is_object) is not None:
                found = "object-id" if self.field_of(inner, self.is_object) in TRUSTED_OBJECT_FIELDS else "object"
            elif isinstance(inner, ast.Name) and depth < MAX_DEPTH and self.value_of(inner.id) is not None:
                found = self.taint_of(self.value_of(inner.id), depth + 1)
            if RANK[found] > RANK[taint]:
                taint = found
        return taint

    # ------------------------------------------------------------------------------------------
    # Rule: inputs used without a check
    # ------------------------------------------------------------------------------------------

    def guards(self):
        guards = {}

        def record(test):
            for inner in [test, *self.under(test)]:
                key = self.input_key(inner)
                if key:
                    guards.setdefault(key, []).append((inner.lineno, inner.col_offset))

        for node in self.nodes:
            if isinstance(node, (ast.If, ast.While, ast.IfExp, ast.Assert)):
                record(node.test)
            elif isinstance(node, ast.BoolOp):
                for value in node.values[:-1]:
                    record(value)
        return guards

    def check_inputs(self):
        guards = self.guards()
        for node in self.nodes:
            target = None
            if isinstance(node, (ast.Attribute, ast.Subscript)):
                target = node.value
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len" and node.args:
                target = node.args[0]
            key = target is not None and self.input_key(target)
            if not key:
                continue
            start = (target.lineno, target.col_offset)
            if any(at < start for at in guards.get(key, [])) or self.inside_try(node):
                continue
            use = f".{node.attr}" if isinstance(node, ast.Attribute) else "[…]" if isinstance(node, ast.Subscript) else " in len()"
            self.report(
                target,
                "unguarded-input",
                "warning",
                f"`{self.text(target)}{use}` uses the input without checking it: a record whose property is empty gives None, and the action fails",
                f'give `{self.text(target)}` a default where it is read (`.get("name") or ""`), or check it before use',
            )

    # ------------------------------------------------------------------------------------------
    # Network calls
    # ------------------------------------------------------------------------------------------

    def model_libraries(self):
        sessions, clients = set(), set()
        for node in self.nodes:
            value, names = None, []
            if isinstance(node, ast.Assign):
                value, names = node.value, [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.withitem) and isinstance(node.optional_vars, ast.Name):
                value, names = node.context_expr, [node.optional_vars.id]
            if not isinstance(value, ast.Call):
                continue
            made = self.qualified(value.func) or ""
            if made in ("requests.Session", "requests.session", "requests.sessions.Session"):
                sessions.update(names)
            if made.startswith("hubspot.") and (made.endswith("HubSpot") or made.endswith("Client.create")):
                clients.update(names)
        return sessions, clients

    def classify(self, call):
        """(kind, url, has_timeout) of a network call, or None."""
        name = self.qualified(call.func) or ""
        keywords = {k.arg: k.value for k in call.keywords}
        has_timeout = "timeout" in keywords or None in keywords
        method = name.rsplit(".", 1)[-1]
        via_session = isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name) and call.func.value.id in self.sessions
        if (name.startswith("requests.") and name.count(".") == 1) or via_session:
            if method in HTTP_METHODS:
                return "requests", keywords.get("url", call.args[0] if call.args else None), has_timeout
            if method == "request":
                return "requests", keywords.get("url", call.args[1] if len(call.args) > 1 else None), has_timeout
        if name == "urllib.request.urlopen":
            url = call.args[0] if call.args else keywords.get("url")
            if isinstance(url, ast.Call) and self.qualified(url.func) == "urllib.request.Request" and url.args:
                url = url.args[0]
            return "urllib", url, has_timeout or len(call.args) >= 3
        root = call.func
        depth = 0
        while isinstance(root, ast.Attribute):
            root, depth = root.value, depth + 1
        if depth >= 2 and isinstance(root, ast.Name) and root.id in self.clients:
            return "hubspot", None, True
        return None

    def network_calls(self):
        return [(node, *found) for node in self.nodes if isinstance(node, ast.Call) for found in [self.classify(node)] if found]

    def is_handled(self, node, depth=0):
        current = node
        while current in self.parents:
            parent = self.parents[current]
            if isinstance(parent, ast.Try) and current in parent.body:
                return True
            if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if parent is self.main or depth >= MAX_DEPTH:
                    return False
                calls = self.calls_of(parent.name)
                return bool(calls) and all(self.is_handled(call, depth + 1) for call in calls)
            current = parent
        return False

    def check_network(self, calls):
        for call, kind, _url, has_timeout in calls:
            label = f"{self.text(call.func)}(…)"
            if not self.is_handled(call):
                self.report(
                    call,
                    "unhandled-network-error",
                    "warning",
                    f"`{label}` is not inside try/except: a failed call raises out of main and HubSpot fails the step",
                    FIXES["unhandled"],
                )
            if kind != "hubspot" and not has_timeout:
                self.report(
                    call,
                    "network-timeout",
                    "warning",
                    f"`{label}` has no timeout: it waits forever by default, so a slow server holds the action until the time limit ends it",
                    FIXES["timeout"],
                )

    # ------------------------------------------------------------------------------------------
    # Rule: URLs built from inputs
    # ------------------------------------------------------------------------------------------

    def value_part(self, node, encoded=False):
        return {"value": node, "taint": self.taint_of(node), "encoded": encoded}

    def url_parts(self, node, depth=0):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [{"text": node.value}]
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                parts.extend(self.url_parts(value.value if isinstance(value, ast.FormattedValue) else value, depth))
            return parts
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self.url_parts(node.left, depth) + self.url_parts(node.right, depth)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and constant_string(node.left) is not None:
            values = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
            return self.template_parts(constant_string(node.left), values, depth)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format" and constant_string(node.func.value) is not None:
            return self.format_parts(constant_string(node.func.value), node, depth)
        if isinstance(node, ast.Call) and self.qualified(node.func) in QUOTING and node.args:
            return [{"value": node, "taint": self.taint_of(node.args[0]), "encoded": True}]
        if isinstance(node, ast.Name) and not self.input_key(node) and depth < MAX_DEPTH and self.value_of(node.id) is not None:
            return self.url_parts(self.value_of(node.id), depth + 1)
        return [self.value_part(node)]

    def template_parts(self, template, values, depth):
        parts, position, index = [], 0, 0
        for match in PERCENT_FIELD.finditer(template):
            parts.append({"text": template[position : match.start()]})
            position = match.end()
            if match.group(0) == "%%":
                parts.append({"text": "%"})
            elif index < len(values):
                parts.extend(self.url_parts(values[index], depth))
                index += 1
        parts.append({"text": template[position:]})
        return parts

    def format_parts(self, template, call, depth):
        keywords = {k.arg: k.value for k in call.keywords if k.arg}
        parts, automatic = [], 0
        try:
            fields = list(string.Formatter().parse(template))
        except ValueError:
            return [self.value_part(call)]
        for literal, field, _spec, _conversion in fields:
            parts.append({"text": literal})
            if field is None:
                continue
            head = re.split(r"[.\[]", field, maxsplit=1)[0]
            if head == "":
                value = call.args[automatic] if automatic < len(call.args) else None
                automatic += 1
            elif head.isdigit():
                value = call.args[int(head)] if int(head) < len(call.args) else None
            else:
                value = keywords.get(head)
            parts.extend(self.url_parts(value, depth) if value is not None else [{"text": "\x00"}])
        return parts

    def check_urls(self, calls):
        for call, _kind, url, _timeout in calls:
            if url is None:
                continue
            prefix = ""
            for part in self.url_parts(url):
                if "text" in part:
                    prefix += part["text"]
                    continue
                if part["taint"] != "none" and not HOST_IS_FIXED.match(prefix):
                    self.report(
                        url,
                        "url-from-input",
                        "error",
                        f"the request's host comes from `{self.text(part['value'])}`: whoever sets that value decides where the action sends its request, and any secret in it (SSRF)",
                        FIXES["host"],
                    )
                    break
                if part["taint"] == "input" and not part["encoded"]:
                    self.report(
                        url,
                        "url-from-input",
                        "warning",
                        f"the input `{self.text(part['value'])}` goes into the URL's path or query unquoted: a value with `/`, `?` or `#` changes which endpoint is called",
                        FIXES["path"],
                    )
                    break
                prefix += "\x00"

    # ------------------------------------------------------------------------------------------
    # Rule: the 20-second budget
    # ------------------------------------------------------------------------------------------

    def makes_network_calls(self, function, depth):
        if function not in self.network_functions:
            self.network_functions[function] = False
            self.network_functions[function] = self.contains_network_call(function, depth + 1)
        return self.network_functions[function]

    def contains_network_call(self, root, depth=0):
        for node in [root, *self.under(root)]:
            if not isinstance(node, ast.Call):
                continue
            if self.classify(node):
                return True
            if isinstance(node.func, ast.Name) and depth < MAX_DEPTH:
                function = self.function_named(node.func.id)
                if function is not None and self.makes_network_calls(function, depth):
                    return True
        return False

    def check_loops(self):
        for node in self.nodes:
            if isinstance(node, LOOPS):
                if any(self.contains_network_call(statement) for statement in node.body):
                    self.report(
                        node,
                        "time-budget",
                        "warning",
                        "this loop makes a network call on every iteration: the calls run one after another, and with enough items they pass the 20-second limit",
                        FIXES["per_item"],
                    )
            elif isinstance(node, COMPREHENSIONS):
                elements = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
                if any(self.contains_network_call(element) for element in elements):
                    self.report(
                        node,
                        "time-budget",
                        "warning",
                        "this comprehension makes a network call per item: with many items the calls pass HubSpot's rate limit or the 20-second limit",
                        FIXES["per_item"],
                    )

    def check_busy_loops(self):
        """A `while` that can only spin: no wait in its body, and nothing that its test (or the tests
        guarding its breaks) reads is changed in it, so it runs until the 20-second limit stops it."""
        for node in self.nodes:
            if not isinstance(node, ast.While) or self.loop_waits(node):
                continue
            conditions = [] if self.always_true(node.test) else [node.test]
            exits_unconditionally = False
            for statement in node.body:
                if isinstance(statement, (ast.Break, ast.Return, ast.Raise)):
                    exits_unconditionally = True
            for inner in self.loop_body_nodes(node):
                if isinstance(inner, ast.If) and any(isinstance(n, (ast.Break, ast.Return, ast.Raise)) for n in self.loop_body_nodes(inner)):
                    conditions.append(inner.test)
            if exits_unconditionally or any(isinstance(n, ast.Call) for c in conditions for n in ast.walk(c)):
                continue
            tested = {n.id for c in conditions for n in ast.walk(c) if isinstance(n, ast.Name)}
            if not conditions or not (tested & self.changed_names(node)):
                self.report(
                    node,
                    "time-budget",
                    "error",
                    "this loop cannot end: its body neither changes what it tests nor waits, so it spins until the 20-second limit stops the action",
                    FIXES["busy"],
                )

    @staticmethod
    def always_true(test):
        return isinstance(test, ast.Constant) and bool(test.value)

    def loop_body_nodes(self, loop):
        """The nodes of a loop's body, without those of nested loops and functions (their breaks are their own)."""
        stack = list(loop.body) + list(getattr(loop, "orelse", []) if isinstance(loop, ast.If) else [])
        while stack:
            current = stack.pop()
            yield current
            if not isinstance(current, LOOPS + FUNCTIONS):
                stack.extend(ast.iter_child_nodes(current))

    def loop_waits(self, loop):
        for statement in loop.body:
            for inner in ast.walk(statement):
                if isinstance(inner, (ast.Await, ast.Yield, ast.YieldFrom)):
                    return True
                if isinstance(inner, ast.Call) and self.qualified(inner.func) in SLEEPS:
                    return True
            if self.contains_network_call(statement):
                return True
        return False

    @staticmethod
    def changed_names(loop):
        changed = set()
        for statement in loop.body:
            for inner in ast.walk(statement):
                targets = []
                if isinstance(inner, ast.Assign):
                    targets = inner.targets
                elif isinstance(inner, (ast.AugAssign, ast.AnnAssign, ast.NamedExpr, ast.For, ast.AsyncFor)):
                    targets = [inner.target]
                elif isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute):
                    targets = [inner.func.value]
                elif isinstance(inner, ast.Delete):
                    targets = inner.targets
                for target in targets:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            changed.add(name.id)
        return changed

    def number_value(self, node, depth=0):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            operand = self.number_value(node.operand, depth)
            return None if operand is None else -operand
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Add, ast.Sub, ast.Div)):
            left, right = self.number_value(node.left, depth), self.number_value(node.right, depth)
            if left is None or right is None:
                return None
            if isinstance(node.op, ast.Div):
                return left / right if right else None
            return {ast.Mult: left * right, ast.Add: left + right, ast.Sub: left - right}[type(node.op)]
        if isinstance(node, ast.Name) and depth < MAX_DEPTH and self.value_of(node.id) is not None:
            return self.number_value(self.value_of(node.id), depth + 1)
        return None

    def in_loop(self, node):
        current = node
        while current in self.parents and not isinstance(current, FUNCTIONS):
            parent = self.parents[current]
            if isinstance(parent, LOOPS) and current in parent.body:
                return True
            if isinstance(parent, COMPREHENSIONS):
                return True
            current = parent
        return False

    def sleeps(self):
        sleeps = []
        for node in self.nodes:
            if not isinstance(node, ast.Call) or self.qualified(node.func) not in SLEEPS or not node.args:
                continue
            seconds = self.number_value(node.args[0])
            if seconds is not None:
                sleeps.append((node, seconds, self.in_loop(node)))
                continue
            delay = node.args[0]
            function = self.enclosing_function(node)
            while isinstance(delay, ast.Name) and function is not None:
                names = [a.arg for a in function.args.args]
                if delay.id in names and isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    index = names.index(delay.id)
                    for site in self.calls_of(function.name):
                        site_seconds = self.number_value(site.args[index]) if index < len(site.args) else None
                        if site_seconds is not None:
                            sleeps.append((site, site_seconds, self.in_loop(site)))
                    break
                function = self.enclosing_function(function)
        return sleeps

    def check_sleeps(self):
        sleeps = self.sleeps()
        for node, seconds, in_loop in sleeps:
            if in_loop and seconds >= LOOP_SLEEP_S:
                self.report(node, "time-budget", "warning", f"waits {seconds:g} s on every iteration of a loop: the waits alone can pass the 20-second limit", FIXES["sleeping"])
        straight = [(node, seconds) for node, seconds, in_loop in sleeps if not in_loop]
        total = sum(seconds for _node, seconds in straight)
        if total >= TOTAL_SLEEP_WARNING_S:
            count = "one wait" if len(straight) == 1 else f"{len(straight)} waits"
            self.report(
                straight[0][0],
                "time-budget",
                "error" if total >= BUDGET_S else "warning",
                f"waits {total:g} s in all ({count}): that much of the 20-second limit is spent doing nothing",
                FIXES["sleeping"],
            )

    # ------------------------------------------------------------------------------------------
    # Facts judged in common with JavaScript
    # ------------------------------------------------------------------------------------------

    def bound_name(self, node):
        """The name a value ends up under: assigned variable or attribute, keyword, dict key."""
        fallback = None
        current = node
        while current in self.parents:
            parent = self.parents[current]
            if isinstance(parent, (ast.Assign, ast.AnnAssign)):
                targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
                return target_name(targets[0]) if parent.value is current else fallback
            if isinstance(parent, ast.keyword):
                return parent.arg or fallback
            if isinstance(parent, ast.Dict):
                if current in parent.values:
                    key = parent.keys[parent.values.index(current)]
                    return constant_string(key) if key is not None else fallback
                return fallback
            if isinstance(parent, ast.Call) and parent.func is not current:
                if fallback is None:
                    index = parent.args.index(current) if current in parent.args else -1
                    first = constant_string(parent.args[0]) if parent.args else None
                    fallback = first if index == 1 and first is not None else call_name(parent)
            passes_value_on = isinstance(parent, (ast.BinOp, ast.BoolOp, ast.IfExp, ast.JoinedStr, ast.FormattedValue, ast.Call, ast.UnaryOp, ast.Await)) or (
                isinstance(parent, ast.Attribute) and parent.value is current
            )
            if not passes_value_on:
                return fallback
            current = parent
        return fallback

    def kind_of(self, node, depth=0):
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool):
                return {"kind": "bool"}
            if isinstance(node.value, str):
                return {"kind": "string", "literal": node.value}
            if isinstance(node.value, (int, float)):
                return {"kind": "number"}
        if isinstance(node, ast.JoinedStr):
            return {"kind": "string"}
        if isinstance(node, ast.Compare) or (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)):
            return {"kind": "bool"}
        if isinstance(node, ast.UnaryOp):
            return {"kind": "number"}
        if isinstance(node, ast.BinOp):
            left, right = self.kind_of(node.left, depth)["kind"], self.kind_of(node.right, depth)["kind"]
            if isinstance(node.op, ast.Mod) and left == "string":
                return {"kind": "string"}
            if isinstance(node.op, ast.Add):
                return {"kind": "string" if "string" in (left, right) else "number" if left == right == "number" else "unknown"}
            return {"kind": "number"}
        if isinstance(node, (ast.BoolOp, ast.IfExp)):
            values = node.values if isinstance(node, ast.BoolOp) else [node.body, node.orelse]
            kinds = {self.kind_of(value, depth)["kind"] for value in values}
            return {"kind": kinds.pop() if len(kinds) == 1 else "unknown"}
        if isinstance(node, ast.Call):
            return {"kind": self.call_kind(node)}
        if isinstance(node, ast.Name) and depth < MAX_DEPTH and self.value_of(node.id) is not None:
            return self.kind_of(self.value_of(node.id), depth + 1)
        return {"kind": "unknown"}

    def call_kind(self, call):
        if isinstance(call.func, ast.Name):
            return {"str": "string", "int": "number", "float": "number", "len": "number", "round": "number", "bool": "bool"}.get(call.func.id, "unknown")
        name = self.qualified(call.func) or ""
        method = call.func.attr if isinstance(call.func, ast.Attribute) else ""
        if name in ("time.time", "time.time_ns") or method in NUMBER_METHODS:
            return "number"
        if method in DATE_TEXT_METHODS:
            return "iso-date-string"
        if method in STRING_METHODS or name == "json.dumps":
            return "string"
        if method in BOOL_METHODS:
            return "bool"
        return "unknown"

    def outputs(self):
        returned, dynamic, anchor = [], False, None

        def collect(mapping):
            nonlocal dynamic
            for key, value in zip(mapping.keys, mapping.values):
                name = constant_string(key) if key is not None else None
                if name is None:
                    dynamic = True
                else:
                    returned.append({"name": name, **self.position(key), **self.kind_of(value)})

        for node in self.nodes:
            if not isinstance(node, ast.Dict):
                continue
            for key, value in zip(node.keys, node.values):
                if key is None or constant_string(key) != "outputFields":
                    continue
                anchor = anchor or self.position(key)
                if isinstance(value, ast.Dict):
                    collect(value)
                    continue
                holder = value.id if isinstance(value, ast.Name) else None
                initial = [v for v in self.assignments.get(holder, []) if isinstance(v, ast.Dict)] if holder else []
                if len(initial) != 1:
                    dynamic = True
                    continue
                collect(initial[0])
                for assign in self.nodes:
                    if not isinstance(assign, ast.Assign):
                        continue
                    for target in assign.targets:
                        if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) and target.value.id == holder:
                            name = constant_string(target.slice)
                            if name is None:
                                dynamic = True
                            else:
                                returned.append({"name": name, **self.position(target), **self.kind_of(assign.value)})
        return {"returned": returned, "dynamic": dynamic, **({"anchor": anchor} if anchor else {})}

    def facts(self):
        imports, literals, random_values = [], [], []
        docstrings = {n.value for n in self.nodes if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
        for node in self.nodes:
            if isinstance(node, ast.Import):
                imports.extend({"module": alias.name, **self.position(node)} for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                imports.append({"module": "." * node.level + (node.module or ""), **self.position(node)})
            elif isinstance(node, ast.Call) and self.qualified(node.func) in ("importlib.import_module", "__import__") and node.args and constant_string(node.args[0]):
                imports.append({"module": constant_string(node.args[0]), **self.position(node)})
            if isinstance(node, ast.Call) and self.qualified(node.func) in RANDOM_CALLS:
                random_values.append({"source": f"{self.qualified(node.func)}()", "repeatable": False, "boundName": self.bound_name(node), **self.position(node)})
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node not in docstrings and not self.is_name_like(node):
                in_fstring = isinstance(self.parents.get(node), ast.JoinedStr)
                literals.append({"value": node.value, **({} if in_fstring else {"boundName": self.bound_name(node)}), **self.position(node)})
        return {"imports": imports, "literals": literals, "randomValues": random_values, "outputs": self.outputs()}

    def is_name_like(self, node):
        parent = self.parents.get(node)
        if isinstance(parent, ast.Dict) and node in parent.keys:
            return True
        if isinstance(parent, ast.Subscript) and parent.slice is node:
            return True
        return is_get_call(parent) and parent.args[0] is node

    def run(self):
        self.check_inputs()
        calls = self.network_calls()
        self.check_network(calls)
        self.check_urls(calls)
        self.check_loops()
        self.check_busy_loops()
        self.check_sleeps()
        return {"findings": self.findings, "facts": self.facts()}


def constant_string(node):
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def is_get_call(node):
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" and len(node.args) >= 1


def target_name(target):
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    if isinstance(target, ast.Subscript):
        return constant_string(target.slice)
    return None


def call_name(call):
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def analyze(path, source):
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as error:
        return {
            "findings": [
                {
                    "line": error.lineno or 1,
                    "column": error.offset or 1,
                    "rule": "syntax-error",
                    "severity": "error",
                    "message": f"the file does not parse: {error.msg}",
                    "fix": "correct the syntax; HubSpot cannot run the action as it is",
                }
            ],
            "facts": None,
        }
    return Analyzer(source, tree).run()


def main():
    if sys.version_info < (3, 10):
        sys.stderr.write(f"Python 3.10 or newer is needed to check Python actions; this is {sys.version.split()[0]}\n")
        return 3
    request = json.load(sys.stdin)
    results = {item["path"]: analyze(item["path"], item["source"]) for item in request["files"]}
    json.dump({"standardLibrary": sorted(sys.stdlib_module_names), "results": results}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

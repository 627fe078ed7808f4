// A restricted unpickler (Python pickle protocols 2-5, opcodes as in CPython's pickletools) that
// never runs code: only the opcodes torch.save emits, and globals resolved from a caller's allowlist.

/** A Python callable from the allowlist (a class or function that REDUCE/NEWOBJ may call). */
export class PyCallable {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly call: (args: PyValue[]) => PyValue,
  ) {}
}

export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

/** A value made by an allowlisted callable (a tensor, a storage reference, ...). */
export class PyObject {
  constructor(
    readonly kind: string,
    readonly value: unknown,
  ) {}
}

export type PyKey = string | number | bigint | boolean | null;
export type PyDict = Map<PyKey, PyValue>;
/** Python lists are JS arrays; dicts are Maps with primitive keys. */
export type PyValue = PyKey | PyValue[] | PyTuple | PyDict | PyCallable | PyObject;

export interface UnpickleOptions {
  /** Allowed globals by "module.name". Anything else is refused. */
  globals: ReadonlyMap<string, PyCallable>;
  /** What the allowlist permits, for the refusal message (e.g. "tensor-rebuild"). */
  allowed?: string;
  /** Resolves a persistent id (BINPERSID); without it persistent ids are refused. */
  persistentLoad?: (pid: PyValue) => PyValue;
}

// Opcode names (pickletools) for error messages, including the ones we refuse, as "hex:NAME".
const OPCODE_NAMES = new Map(
  `
  28:MARK 29:EMPTY_TUPLE 2e:STOP 30:POP 31:POP_MARK 32:DUP 42:BINBYTES 43:SHORT_BINBYTES 46:FLOAT
  47:BINFLOAT 49:INT 4a:BININT 4b:BININT1 4c:LONG 4d:BININT2 4e:NONE 50:PERSID 51:BINPERSID 52:REDUCE
  53:STRING 54:BINSTRING 55:SHORT_BINSTRING 56:UNICODE 58:BINUNICODE 5d:EMPTY_LIST 61:APPEND 62:BUILD
  63:GLOBAL 64:DICT 65:APPENDS 67:GET 68:BINGET 69:INST 6a:LONG_BINGET 6c:LIST 6f:OBJ 70:PUT 71:BINPUT
  72:LONG_BINPUT 73:SETITEM 74:TUPLE 75:SETITEMS 7d:EMPTY_DICT 80:PROTO 81:NEWOBJ 82:EXT1 83:EXT2
  84:EXT4 85:TUPLE1 86:TUPLE2 87:TUPLE3 88:NEWTRUE 89:NEWFALSE 8a:LONG1 8b:LONG4 8c:SHORT_BINUNICODE
  8d:BINUNICODE8 8e:BINBYTES8 8f:EMPTY_SET 90:ADDITEMS 91:FROZENSET 92:NEWOBJ_EX 93:STACK_GLOBAL
  94:MEMOIZE 95:FRAME 96:BYTEARRAY8 97:NEXT_BUFFER 98:READONLY_BUFFER
  `
    .trim()
    .split(/\s+/)
    .map((p) => [parseInt(p, 16), p.slice(3)] as const),
);

function fail(msg: string): never {
  throw new Error(`pickle: ${msg}`);
}

function hex(op: number): string {
  return `0x${op.toString(16).padStart(2, "0")}`;
}

function isKey(v: PyValue): v is PyKey {
  return v === null || ["string", "number", "bigint", "boolean"].includes(typeof v);
}

/** Unpickles `data`, calling only allowlisted globals. Every length is checked against the bytes left. */
export function unpickle(data: Uint8Array, opts: UnpickleOptions): PyValue {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const utf8 = new TextDecoder("utf-8");
  const latin1 = new TextDecoder("latin1");
  let pos = 0;
  let stack: PyValue[] = [];
  const marks: PyValue[][] = [];
  const memo = new Map<number, PyValue>();

  const need = (n: number, what: string): number => {
    if (n > data.byteLength - pos)
      fail(`${what} needs ${n} bytes at offset ${pos}, only ${data.byteLength - pos} left`);
    const at = pos;
    pos += n;
    return at;
  };
  const pop = (): PyValue => {
    if (stack.length === 0) fail(`stack underflow at offset ${pos}`);
    return stack.pop()!;
  };
  const top = (): PyValue => {
    if (stack.length === 0) fail(`stack underflow at offset ${pos}`);
    return stack[stack.length - 1]!;
  };
  const popMark = (): PyValue[] => {
    const items = stack;
    const prev = marks.pop();
    if (!prev) fail(`no MARK before offset ${pos}`);
    stack = prev;
    return items;
  };
  const line = (what: string): string => {
    const len = data.subarray(pos, pos + 1025).indexOf(0x0a);
    if (len < 0) fail(`unterminated ${what} at offset ${pos}`);
    const s = latin1.decode(data.subarray(pos, pos + len));
    pos += len + 1;
    return s;
  };
  const text = (n: number, what: string): string => {
    const at = need(n, what);
    return utf8.decode(data.subarray(at, at + n));
  };
  const resolve = (module: string, name: string): PyCallable => {
    const g = opts.globals.get(`${module}.${name}`);
    if (!g)
      fail(`refused global ${module}.${name} (only ${opts.allowed ?? "allowlisted"} globals are allowed)`);
    return g;
  };
  const asDict = (v: PyValue, op: string): PyDict => {
    if (!(v instanceof Map)) fail(`${op} on a non-dict at offset ${pos}`);
    return v;
  };
  const setItems = (d: PyDict, kv: PyValue[], op: string): void => {
    if (kv.length % 2) fail(`${op} with an odd number of items`);
    for (let i = 0; i < kv.length; i += 2) {
      const k = kv[i]!;
      if (!isKey(k)) fail(`${op}: unsupported dict key type at offset ${pos}`);
      d.set(k, kv[i + 1]!);
    }
  };
  const call = (fn: PyValue, args: PyValue, op: string): PyValue => {
    if (!(fn instanceof PyCallable)) fail(`${op} on something that is not an allowed callable`);
    if (!(args instanceof PyTuple)) fail(`${op} needs an argument tuple`);
    return fn.call(args.items);
  };

  while (pos < data.byteLength) {
    const op = data[pos++]!;
    switch (op) {
      case 0x80: {
        const proto = data[need(1, "PROTO")]!;
        if (proto < 2 || proto > 5) fail(`unsupported protocol ${proto}`);
        break;
      }
      case 0x95: {
        const at = need(8, "FRAME");
        const len = view.getBigUint64(at, true);
        if (len > BigInt(data.byteLength - pos)) fail(`FRAME of ${len} bytes runs past the data`);
        break;
      }
      case 0x2e: // STOP
        if (marks.length) fail("STOP inside an unclosed MARK");
        if (stack.length !== 1) fail(`STOP with ${stack.length} values on the stack`);
        return stack[0]!;
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple([]));
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x58: // BINUNICODE
        stack.push(text(view.getUint32(need(4, "BINUNICODE"), true), "BINUNICODE"));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(data[need(1, "SHORT_BINUNICODE")]!, "SHORT_BINUNICODE"));
        break;
      case 0x4a: // BININT
        stack.push(view.getInt32(need(4, "BININT"), true));
        break;
      case 0x4b: // BININT1
        stack.push(data[need(1, "BININT1")]!);
        break;
      case 0x4d: // BININT2
        stack.push(view.getUint16(need(2, "BININT2"), true));
        break;
      case 0x8a: {
        // LONG1: n little-endian two's complement bytes
        const n = data[need(1, "LONG1")]!;
        const at = need(n, "LONG1");
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[at + i]!);
        if (n > 0 && data[at + n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(
          v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v,
        );
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        stack.push(view.getFloat64(need(8, "BINFLOAT"), false));
        break;
      case 0x74: {
        // TUPLE (popMark replaces `stack`, so take the items before pushing)
        const items = popMark();
        stack.push(new PyTuple(items));
        break;
      }
      case 0x85: // TUPLE1
        stack.push(new PyTuple([pop()]));
        break;
      case 0x86: {
        const b = pop();
        stack.push(new PyTuple([pop(), b]));
        break;
      }
      case 0x87: {
        const c = pop();
        const b = pop();
        stack.push(new PyTuple([pop(), b, c]));
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(asDict(top(), "SETITEM"), [k, v], "SETITEM");
        break;
      }
      case 0x75: {
        const kv = popMark();
        setItems(asDict(top(), "SETITEMS"), kv, "SETITEMS");
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        const list = top();
        if (!Array.isArray(list)) fail("APPEND to a non-list");
        list.push(v);
        break;
      }
      case 0x65: {
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) fail("APPENDS to a non-list");
        for (const v of items) list.push(v);
        break;
      }
      case 0x71: // BINPUT
        memo.set(data[need(1, "BINPUT")]!, top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(view.getUint32(need(4, "LONG_BINPUT"), true), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const key = op === 0x68 ? data[need(1, "BINGET")]! : view.getUint32(need(4, "LONG_BINGET"), true);
        if (!memo.has(key)) fail(`memo key ${key} is not defined (offset ${pos})`);
        stack.push(memo.get(key)!);
        break;
      }
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line("GLOBAL module");
        stack.push(resolve(module, line("GLOBAL name")));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") fail("STACK_GLOBAL needs two strings");
        stack.push(resolve(module, name));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        stack.push(call(pop(), args, "REDUCE"));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args), treated as a call of the allowlisted class
        const args = pop();
        stack.push(call(pop(), args, "NEWOBJ"));
        break;
      }
      case 0x62: {
        // BUILD: obj.__setstate__(state). Only a dict's attribute state (OrderedDict._metadata) is accepted,
        // and ignored.
        const state = pop();
        const obj = top();
        if (!(obj instanceof Map) || !(state instanceof Map || state === null)) {
          fail(`BUILD is only supported on dicts (offset ${pos})`);
        }
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!opts.persistentLoad) fail("persistent ids are not allowed here");
        stack.push(opts.persistentLoad(pid));
        break;
      }
      default:
        fail(`unsupported opcode ${OPCODE_NAMES.get(op) ?? "unknown"} (${hex(op)}) at offset ${pos - 1}`);
    }
  }
  fail("data ended before STOP");
}

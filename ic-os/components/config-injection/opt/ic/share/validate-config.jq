# The config rules of the device's validator, a jq module (validate-media.jq is the program the
# device runs): config_problems checks one config.json (the input) against the JSON Schema that
# icos generates from its config schema (config-schema.json beside this file) and the media rules
# (config-media.json), and the ssh key files the media carries. The rules are the host's
# (src/config/schema.ts, patterns.ts, media.ts); the fast tier runs this module and the host's
# validator on the same configs and requires the same verdict.
# Usage: include "validate-config"; config_problems($schema[0]; $rules[0]; {"admin": TEXT, ...}; HAS_OPERATOR_KEY)
#        (with jq -L DIR-OF-THIS-FILE)

def show: tojson | if length > 60 then .[0:57] + "..." else . end;

def where($p):
  if $p == [] then "(top level)"
  else reduce $p[] as $k (""; if ($k | type) == "number" then . + "[\($k)]" elif . == "" then $k else . + "." + $k end)
  end;

# JSON Schema's "integer" is a number with no fraction (and, as zod wants, a safe one).
def kind:
  if type == "number" and . == floor and fabs <= 9007199254740991 then "integer" else type end;

def type_ok($t):
  if $t == "integer" then kind == "integer"
  elif $t == "number" then type == "number"
  else type == $t end;

# A pattern is ^...$ around the whole string; Oniguruma's $ also matches before a final newline,
# so the anchors become \A...\z.
def anchored: "\\A(?:" + (ltrimstr("^") | rtrimstr("$")) + ")\\z";
def matches($re): test($re | anchored);

# The problems of the input against schema $s at path $p, as "path: message" strings.
def check($s; $p):
  . as $v
  | if ($s | has("anyOf")) then
      [$s.anyOf[] as $alt | [$v | check($alt; $p)]] as $each
      | if any($each[]; length == 0) then empty
        else
          # Name the form the input meant: the alternative whose one required key it has.
          [range(0; $s.anyOf | length) as $i
            | select(($v | type) == "object" and ($s.anyOf[$i].required // []) != []
                and all($s.anyOf[$i].required[]; . as $k | $v | has($k)))
            | $i] as $meant
          | if ($meant | length) == 1 then $each[$meant[0]][]
            else "\(where($p)): expected one of the forms \([$s.anyOf[] | if has("const") then .const else (.required // []) end] | tojson), got \($v | show)"
            end
        end
    elif ($s | has("const")) and $v != $s.const then "\(where($p)): expected \($s.const | tojson), got \($v | show)"
    elif ($s | has("type")) and ($v | type_ok($s.type) | not) then "\(where($p)): expected \($s.type), got \($v | show)"
    elif ($s | has("enum")) and (any($s.enum[]; . == $v) | not) then "\(where($p)): expected one of \($s.enum | join(", ")), got \($v | show)"
    elif ($v | type) == "string" then
      (if ($s | has("minLength")) and ($v | length) < $s.minLength then "\(where($p)): must not be shorter than \($s.minLength)" else empty end),
      (if ($s | has("maxLength")) and ($v | length) > $s.maxLength then "\(where($p)): must not be longer than \($s.maxLength)" else empty end),
      (if ($s | has("pattern")) and ($v | matches($s.pattern) | not) then "\(where($p)): expected \($s["x-expected"] // "a value matching \($s.pattern)"), got \($v | show)" else empty end),
      (if ($s | has("allOf")) then $s.allOf[] as $sub | $v | check($sub; $p) else empty end)
    elif ($v | type) == "number" then
      (if ($s | has("minimum")) and $v < $s.minimum then "\(where($p)): must be at least \($s.minimum), got \($v)" else empty end),
      (if ($s | has("maximum")) and $v > $s.maximum then "\(where($p)): must be at most \($s.maximum), got \($v)" else empty end)
    elif ($v | type) == "array" then
      (if ($s | has("minItems")) and ($v | length) < $s.minItems then "\(where($p)): needs at least \($s.minItems) item(s)" else empty end),
      (if ($s | has("items")) then range(0; $v | length) as $i | $v[$i] | check($s.items; $p + [$i]) else empty end)
    elif ($v | type) == "object" then
      ($s.properties // {}) as $props
      | (($s.required // [])[] | select(. as $k | $v | has($k) | not) | "\(where($p + [.])): required"),
        ($v | keys_unsorted[] as $k
          | if $props | has($k) then $v[$k] | check($props[$k]; $p + [$k])
            elif $s.additionalProperties == false then "\(where($p + [$k])): unknown key (valid keys: \($props | keys_unsorted | join(", ")))"
            elif ($s.additionalProperties | type) == "object" then
              ($k | check($s.propertyNames // {}; $p + [$k])), ($v[$k] | check($s.additionalProperties; $p + [$k]))
            else empty end)
    else empty end;

# One authorized_keys file: every line a key of a known type (or blank, or a comment), by the
# host's line rules ($r.ssh_key_line, $r.ssh_blank_or_comment_line).
def key_problems($file; $text; $r):
  [$text | split("\n") | to_entries[]
    | .key as $i | .value as $line
    | select($line | matches($r.ssh_blank_or_comment_line) | not)
    | if ($line | endswith("\r")) then "\($file):\($i + 1): ends in a carriage return (Windows line ending); use \\n only"
      else ([$line | match($r.ssh_key_line | anchored)] | first) as $m
      | if $m == null then "\($file):\($i + 1): expected an OpenSSH public key like \"ssh-ed25519 AAAA... comment\""
        else ($m.captures | map(.string)) as [$type, $blob]
        | if (any($r.ssh_key_types[]; . == $type) | not) then "\($file):\($i + 1): expected a key type (\($r.ssh_key_types | join(", "))), got \($type | show)"
          # The blob starts with its own type as an SSH string: a big-endian uint32 length, the bytes.
          else ((try ($blob | @base64d) catch "") | explode) as $d
          | if ($d | length) < 4 or ($d[0:4] | .[0] * 16777216 + .[1] * 65536 + .[2] * 256 + .[3]) != ($type | length)
              or ($d[4:4 + ($type | length)] | implode) != $type
            then "\($file):\($i + 1): the key data is not a \($type) key (truncated or mixed up?)"
            else "ok" end
          end
        end
      end]
  | if length == 0 then ["\($file): has no keys (only comments and blank lines)"] else map(select(. != "ok")) end;

# The problems of one config (the input), each "config.json: path: message" or "FILE: message";
# $keys: account -> the text of its authorized_keys file on the media; $operator_key: whether the
# media carries the node operator key.
def config_problems($s; $r; $keys; $operator_key):
  . as $config
  | ([paths | length] | max // 0) as $depth
  | if $depth > $r.max_depth then ["config.json: nested \($depth) levels deep, more than \($r.max_depth)"]
    else
      [check($s; []) | "config.json: " + .]
      + if ($config | type) != "object" or ($config.icos_settings | type) != "object" then []
        else
          ($config.icos_settings.use_ssh_authorized_keys) as $use_keys
          | (if $use_keys == true and ($keys | has("admin") | not) then ["config.json: icos_settings.use_ssh_authorized_keys: true, but the media has no \($r.ssh_keys_dir)/admin"]
             elif $use_keys == false and ($keys | length) > 0 then ["config.json: icos_settings.use_ssh_authorized_keys: false, but the media carries \($r.ssh_keys_dir)/ (\($keys | keys | join(", ")))"]
             else [] end)
          + [$keys | to_entries[] | key_problems("\($r.ssh_keys_dir)/\(.key)"; .value; $r)[]]
          + (($config.icos_settings.use_node_operator_private_key == true) as $use_key | ($operator_key == true) as $has_key
            | if $use_key and ($has_key | not) then ["config.json: icos_settings.use_node_operator_private_key: true, but the media has no \($r.node_operator_key_file)"]
              elif ($use_key | not) and $has_key then ["config.json: icos_settings.use_node_operator_private_key: not true, but the media carries \($r.node_operator_key_file)"]
              else [] end)
        end
    end;

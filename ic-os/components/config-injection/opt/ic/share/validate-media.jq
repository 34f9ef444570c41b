# The device's check of a CONFIG media copy, in one jq run (each run costs a fifth of a second
# on an emulated CPU): the tree, then config.json (validate-config.jq's rules).
# Inputs (validate-config-media.sh passes them):
#   the input        config.json slurped (--slurp: every JSON document in it), or null (-n) when
#                    the media has no regular config.json
#   $listing         find DIR -mindepth 1 -printf '%y %s %P\0' (type, size, path; NUL-separated,
#                    so a name may hold anything, a newline too)
#   $schema, $rules  config-schema.json, config-media.json (--slurpfile)
#   path_N, file_N   each regular file one directory down, its path and text (--arg, --rawfile)
# Output: line 1 the path of the node operator key to check with openssl (empty when none), line 2
# the config as strict compact JSON (what is kept and used: never the original bytes). On problems
# nothing on stdout: every problem, one per line "FILE: [FIELD: ]REASON", on stderr and exit 6.

include "validate-config";

def refuse: map(. + "\n") | add | halt_error(6);

$rules[0] as $r
| ($listing | split("\u0000") | map(select(length > 0) | split(" ") | {type: .[0], size: .[1], path: .[2:] | join(" ")})) as $tree
| ($r.ssh_accounts | map("\($r.ssh_keys_dir)/\(.)")) as $key_paths
| ($r.files + [$r.ssh_keys_dir] + $key_paths) as $allowed
| if ($tree | length) > $r.max_entries then ["(media): \($tree | length) entries, more than \($r.max_entries): not a CONFIG media"] | refuse
  elif any($tree[]; .path | test("\n")) then ["(media): a file name with a newline: not a CONFIG media"] | refuse
  else . end
| ($tree | map({key: .path, value: .}) | from_entries) as $entry
| [$tree[]
    | if (.path as $p | any($allowed[]; . == $p) | not) then "\(.path): not a file the CONFIG media may hold (allowed: \($allowed | join(" ")))"
      elif .type != "f" and .type != "d" then "\(.path): not a regular file or directory"
      elif .type == "f" and .path != "config.json" and (.size | tonumber) > $r.max_file_bytes then "\(.path): \(.size) bytes, more than \($r.max_file_bytes)"
      else empty end] as $tree_problems
| $entry["config.json"] as $config_entry
| if ($config_entry.type // "") != "f" then $tree_problems + ["config.json: missing"] | refuse
  elif ($config_entry.size | tonumber) > $r.max_config_bytes then $tree_problems + ["config.json: \($config_entry.size) bytes, more than \($r.max_config_bytes)"] | refuse
  elif length != 1 then $tree_problems + ["config.json: not one JSON document (\(length) found)"] | refuse
  else .[0] end
| . as $config
| ($ARGS.named | [to_entries[] | select(.key | startswith("path_")) | .key as $k | {key: .value, value: $ARGS.named["file_" + ($k | ltrimstr("path_"))]}] | from_entries) as $files
| ($files | with_entries(select(.key as $p | any($key_paths[]; . == $p)) | .key |= ltrimstr("\($r.ssh_keys_dir)/"))) as $keys
| ($entry[$r.node_operator_key_file].type == "f") as $operator_key
| ($tree_problems + config_problems($schema[0]; $r; $keys; $operator_key)) as $problems
| if $problems != [] then $problems | refuse
  else (if $operator_key then $r.node_operator_key_file else "" end), ($config | tojson) end

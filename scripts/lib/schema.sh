# shellcheck shell=bash
# Schema checks of proto/ (sourced by ./scripts/test after vmlet_ensure_node_tools):
#  - buf lint, with the rules in proto/buf.yaml;
#  - buf breaking against the newest tag api/v* (the last released API), when there is one. With no
#    such tag yet it says so and checks nothing: there is no released API to break.
vmlet_check_schema() {
  local root=$1 buf="$VMLET_NODE_TOOLS/node_modules/.bin/buf" tag old
  echo "==> buf lint proto/"
  (cd "$root/proto" && "$buf" lint)
  tag=$(git -C "$root" tag --list 'api/v*' --sort=-version:refname | head -n 1)
  if [[ -z $tag ]]; then
    echo "==> buf breaking: no api/v* tag yet, nothing released to compare with; skipped"
    return 0
  fi
  echo "==> buf breaking proto/ against $tag"
  old=$(mktemp -d)
  # The tag's proto/ as plain files: works the same in a clone and in a git worktree.
  git -C "$root" archive "$tag" proto | tar -x -C "$old"
  (cd "$root/proto" && "$buf" breaking --against "$old/proto") || { rm -rf "$old"; return 1; }
  rm -rf "$old"
}

#!/bin/bash
# Docs tier: corral's --help, docs/cli.md and corral(1) agree on every
# command's options, and the man pages render without warnings.  Needs
# neither root nor a running corrald.  Every check prints "ok NAME" or
# "FAIL NAME: detail"; the last line is "N passed, M failed".
#
# The commands are the ones `corral --help` lists.  A command's options
# are the -x and --long tokens of its `corral CMD --help`: the usage line
# and the lines that start with an option.  They are found in
#   docs/cli.md   the section "## corral CMD": its code blocks (lines
#                 that quote another command left out) and the `...`
#                 spans of its text (those that quote a command left out);
#   corral.1      the .TP entry of CMD under COMMANDS, and the sections
#                 named after it (RUN LIMITS, RUN OPTIONS).
# --help and the options of corral's own usage line (--socket) belong to
# every command; they are checked once, not per command.
set -u

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD:-$top/build}
corral=$build/corral
cli_md=$top/docs/cli.md
man1=$top/packaging/man/corral.1

[ -x "$corral" ] || { echo "check-docs: $corral is missing: run make first" >&2; exit 1; }

pass=0 failed=0
ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

# The option tokens of the text on stdin, one a line, sorted; a bare "--"
# (end of options) is none.
opts() {
	grep -oE '(^|[][ (|,/`])--?[A-Za-z][A-Za-z0-9-]*' | sed 's/^[^-]*//' | sort -u
}
# Drop the options every command takes.
own() { grep -vxF -f <(printf '%s\n' "${common[@]}") || true; }
# The usage line, with the indented lines that continue it.
usage_of() { awk 'NR == 1 { print; next } /^ / { print; next } { exit }'; }
# words LIST: LIST (lines) joined with ", ".
words() { paste -sd, - <<<"$1" | sed 's/,/, /g'; }

main_help=$("$corral" --help) || { bad corral_help "corral --help failed"; main_help=; }
mapfile -t cmds < <(awk '/^Commands:/ { f = 1; next } f && !NF { exit } f { print $1 }' <<<"$main_help")
if [ ${#cmds[@]} -gt 0 ]; then
	ok "corral_help (${#cmds[@]} commands: ${cmds[*]})"
else
	bad corral_help "no commands under \"Commands:\" in corral --help"
fi
mapfile -t common < <(head -n 1 <<<"$main_help" | opts; printf '%s\n' --help -h)

# docs/cli.md: "CMD<TAB>text" for each line that may name CMD's options;
# CMD "-" for the preamble, before the first command's section.  A `...`
# span that starts with "corral " is an example, not a list of options.
md_lines() {
	awk -v cmds="${cmds[*]}" '
	BEGIN { n = split(cmds, c, " "); for (i = 1; i <= n; i++) known[c[i]]; cur = "-" }
	/^```/ { fence = !fence; next }
	!fence && /^#/ {
		if ($0 ~ /^## corral [a-z][a-z-]*$/) {
			cur = $3
			print cur "\t"
		} else if (cur != "-") {
			cur = ""
		}
		next
	}
	cur == "" { next }
	fence {
		split($0, w, " ")
		if (!(w[1] == "corral" && (w[2] in known) && w[2] != cur))
			print cur "\t" $0
		next
	}
	{
		s = $0
		while (match(s, /`[^`]*`/)) {
			span = substr(s, RSTART + 1, RLENGTH - 2)
			if (span !~ /^corral /)
				print cur "\t" span
			s = substr(s, RSTART + RLENGTH)
		}
	}' "$cli_md"
}

# corral.1, its escapes and quotes taken out: "CMD<TAB>text" as above,
# CMD "-" outside the commands' entries and sections.
man_lines() {
	sed -e 's/\\f[BIRP]//g' -e 's/\\%//g' -e 's/\\&//g' -e 's/\\-/-/g' -e 's/"//g' "$man1" |
	awk -v cmds="${cmds[*]}" '
	BEGIN { n = split(cmds, c, " "); for (i = 1; i <= n; i++) known[c[i]] }
	/^\.SH/ {
		sec = $2; for (i = 3; i <= NF; i++) sec = sec " " $i
		w = tolower($2)
		cur = (NF > 2 && (w in known)) ? w : "-"
		next
	}
	sec == "COMMANDS" && /^\.TP/ { tag = 1; next }
	{ sub(/^\.[A-Z]+ ?/, "") }
	tag { cur = $1; tag = 0; print cur "\t"; if (!(cur in known)) print "?" cur "\t" }
	{ print cur "\t" $0 }'
}

md=$(md_lines)
man=$(man_lines)
# of LINES CMD: CMD's text in LINES.
of() { awk -F '\t' -v c="$2" '$1 == c { print $2 }' <<<"$1"; }

# compare NAME WANT HAVE SRC DOC: the options WANT (from SRC, a --help)
# and HAVE (from DOC) are the same.
compare() {
	local name=$1 want=$2 have=$3 src=$4 doc=$5 miss extra d=
	miss=$(comm -23 <(printf '%s\n' "$want" | sed '/^$/d') <(printf '%s\n' "$have" | sed '/^$/d'))
	extra=$(comm -13 <(printf '%s\n' "$want" | sed '/^$/d') <(printf '%s\n' "$have" | sed '/^$/d'))
	[ -n "$miss" ] && d="$src has $(words "$miss"), $doc does not"
	[ -n "$extra" ] && d="${d:+$d; }$doc has $(words "$extra"), $src does not"
	if [ -z "$d" ]; then ok "$name"; else bad "$name" "$d"; fi
}

for cmd in "${cmds[@]}"; do
	if ! help=$("$corral" "$cmd" --help 2>&1) || ! grep -q "^usage: corral $cmd\b" <<<"$help"; then
		bad "help_$cmd" "corral $cmd --help: $(head -n 1 <<<"$help")"
		continue
	fi
	usage=$(usage_of <<<"$help" | opts | own)
	want=$( (head -n 1 <<<"$help"; grep -E '^[[:space:]]+-' <<<"$help") | opts | own)
	ok "help_$cmd ($(wc -w <<<"$want") options)"

	# The overview's line for the command shows none that it does not have.
	extra=$(comm -13 <(echo "$want") <(grep -E "^  $cmd( |$)" <<<"$main_help" | opts | own))
	if [ -z "$extra" ]; then ok "overview_$cmd"; else
		bad "overview_$cmd" "corral --help shows $(words "$extra") for $cmd, corral $cmd --help does not"
	fi

	# Each option it lists is one it takes (no daemon: the socket does
	# not exist, so whatever gets as far as connecting fails there).
	unknown=
	for o in $want; do
		"$corral" --socket /nonexistent/corral.sock "$cmd" "$o" </dev/null 2>&1 >/dev/null |
			grep -q "unknown option" && unknown="$unknown $o"
	done
	if [ -z "$unknown" ]; then ok "parser_$cmd"; else
		bad "parser_$cmd" "corral $cmd refuses$unknown as an unknown option"
	fi

	if ! grep -q "^$cmd	" <<<"$md"; then
		bad "cli_md_$cmd" "docs/cli.md has no section \"## corral $cmd\""
	else
		compare "cli_md_$cmd" "$want" "$(of "$md" "$cmd" | opts | own)" \
			"corral $cmd --help" "docs/cli.md (## corral $cmd)"
		# Its synopsis is the usage line's.
		syn=$(of "$md" "$cmd" | grep -E "^corral $cmd( |$)" | head -n 1)
		if [ -z "$syn" ]; then
			bad "cli_md_synopsis_$cmd" "no \"corral $cmd ...\" code block under \"## corral $cmd\""
		else
			compare "cli_md_synopsis_$cmd" "$usage" "$(opts <<<"$syn" | own)" \
				"the usage line of corral $cmd --help" "its synopsis in docs/cli.md"
		fi
	fi

	if ! grep -q "^$cmd	" <<<"$man"; then
		bad "man1_$cmd" "corral.1 has no entry for $cmd under COMMANDS"
	else
		compare "man1_$cmd" "$want" "$(of "$man" "$cmd" | opts | own)" \
			"corral $cmd --help" "corral.1 ($cmd)"
	fi
done

# Sections and entries for commands corral does not have.
stray=$(grep -oE '^## corral [a-z][a-z-]*$' "$cli_md" | cut -d' ' -f3 | grep -vxF -f <(printf '%s\n' "${cmds[@]}"))
if [ -z "$stray" ]; then ok cli_md_commands; else
	bad cli_md_commands "docs/cli.md documents $(words "$stray"), corral --help does not list it"
fi
stray=$(grep '^?' <<<"$man" | cut -f1 | cut -c2-)
if [ -z "$stray" ]; then ok man1_commands; else
	bad man1_commands "corral.1 has COMMANDS entries $(words "$stray"), corral --help does not list them"
fi

# The options every command takes are documented once, in the preamble
# of docs/cli.md and in corral.1's SYNOPSIS or OPTIONS.
for o in $(head -n 1 <<<"$main_help" | opts); do
	miss=
	of "$md" - | opts | grep -qxF -- "$o" || miss="docs/cli.md's preamble"
	of "$man" - | opts | grep -qxF -- "$o" || miss="${miss:+$miss and }corral.1"
	if [ -z "$miss" ]; then ok "common_option_$o"; else
		bad "common_option_$o" "corral --help has $o, $miss does not"
	fi
done

# The man pages: no warnings from man (lintian's own invocation), no line
# wider than the terminal, and corral.1's heading for each command shows
# the options of its usage line (a heading that wraps into its paragraph
# does not).
if ! command -v man >/dev/null; then
	ok "man_pages skipped: man not installed"
else
	for page in "$top"/packaging/man/*.[1-8]; do
		p=$(basename "$page")
		w=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
		if [ -z "$w" ]; then ok "man_warnings_$p"; else
			bad "man_warnings_$p" "$(head -n 3 <<<"$w" | paste -sd'|' -)"
		fi
		long=$(MANWIDTH=80 man -l "$page" 2>/dev/null | awk 'length > 80 { print NR ": " $0; exit }')
		if [ -z "$long" ]; then ok "man_width_$p"; else
			bad "man_width_$p" "a line wider than 80 columns: $long"
		fi
	done
	rendered=$(MANWIDTH=200 man -l "$man1" 2>/dev/null |
		awk '/^[A-Z]/ { sec = $0; next } sec == "COMMANDS" && /^       [a-z]/')
	for cmd in "${cmds[@]}"; do
		usage=$("$corral" "$cmd" --help 2>/dev/null | usage_of)
		head=$(grep -E "^       $cmd( |$)" <<<"$rendered" | head -n 1)
		if [ -z "$head" ]; then
			bad "man1_heading_$cmd" "corral.1 renders no heading for $cmd under COMMANDS"
		else
			compare "man1_heading_$cmd" "$(opts <<<"$usage" | own)" "$(opts <<<"$head" | own)" \
				"the usage line of corral $cmd --help" "corral.1's heading \"${head#       }\""
		fi
	done
fi

echo "$pass passed, $failed failed"
[ "$failed" = 0 ]

# Turn schema/NNN_name.sql files into a C table of migrations, so corrald
# carries its schema inside the binary.  Usage: awk -f gen_schema.awk *.sql
BEGIN {
	print "/* Generated from schema/NNN_name.sql by manager/gen_schema.awk. */"
	print "#include \"" (hdr != "" ? hdr : "schema.h") "\""
	print "const struct migration migrations[] = {"
	n = 0
}
FNR == 1 {
	if (n)
		print "\t},"
	base = FILENAME
	sub(/^.*\//, "", base)
	sub(/\.sql$/, "", base)
	num = base
	sub(/_.*$/, "", num)
	if (num !~ /^[0-9][0-9][0-9]$/) {
		print "gen_schema.awk: " FILENAME ": name must be NNN_name.sql" > "/dev/stderr"
		exit 1
	}
	n++
	if (num + 0 != n) {
		print "gen_schema.awk: " FILENAME ": expected migration number " n > "/dev/stderr"
		exit 1
	}
	print "\t{ " (num + 0) ", \"" base "\","
}
{
	line = $0
	gsub(/\\/, "\\\\", line)
	gsub(/"/, "\\\"", line)
	gsub(/\t/, "\\t", line)
	print "\t  \"" line "\\n\""
}
END {
	if (n)
		print "\t},"
	print "};"
	print "const unsigned nmigrations = " n ";"
}

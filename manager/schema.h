/* Migrations built into corrald from schema/NNN_name.sql (generated
 * file: see manager/build.mk). */
#ifndef CORRAL_SCHEMA_H
#define CORRAL_SCHEMA_H

struct migration {
	unsigned version;	/* NNN: applied when user_version < NNN */
	const char *name;
	const char *sql;
};

extern const struct migration migrations[];
extern const unsigned nmigrations;

#endif

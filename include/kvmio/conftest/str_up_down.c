// SPDX-License-Identifier: GPL-2.0
/* str_up_down() in <linux/string_choices.h> (6.2 and later). */
#include <linux/string_choices.h>

const char *probe(bool v);
const char *probe(bool v)
{
	return str_up_down(v);
}

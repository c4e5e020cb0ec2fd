// /proc/PID/stat, past its comm. Pure, no I/O.

/**
 * The fields after the comm: [state, ppid, pgrp, …], so field N of proc(5) is at N - 3 (starttime, field
 * 22, at 19). The comm (field 2) may hold spaces and parentheses: the last ")" ends it.
 */
export function procStatFields(statText: string): string[] {
  return statText.slice(statText.lastIndexOf(')') + 2).split(' ');
}

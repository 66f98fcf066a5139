/* A plain C loop of the kernel's zonelist rule, for benchmarks/bench_zonelist_c.py.
 *
 * For every node in ascending id order (__build_all_zonelists), build_zonelists() calls
 * find_next_best_node() until it returns no node: the local node first, then the N_MEMORY node
 * not yet used with the smallest (distance + [n < local] + [n has CPUs] * penalty) * scale +
 * node_load[n], ties to the lowest id. After each pick the first node of a new distance group
 * gets node_load[n] += 1 (v5.19+, the variant numalab.kernel.VARIANTS calls node_load_increment;
 * scale is MAX_NUMNODES there). node_load is zeroed once and carried across nodes. This is the rule as written, O(n^3), with no cleverness: the baseline numalab's
 * vectorized build is compared against.
 *
 * Input on stdin (text): n scale, then n*n distances (row-major), then n has_cpu flags, then n
 * has_memory flags. Output on stdout: the seconds the build took (line 1), then one line per
 * node with its fallback order (node indices, space separated).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int n, scale;
static int *dist, *has_cpu, *has_mem, *node_load, *order, *order_len;
static char *used;

static int find_next_best_node(int node)
{
	int min_val = INT_MAX, best = -1;

	if (!used[node] && has_mem[node]) {   /* v6.8+: the local node first if it has memory */
		used[node] = 1;
		return node;
	}
	for (int m = 0; m < n; m++) {
		int val;

		if (!has_mem[m] || used[m])
			continue;
		val = dist[node * n + m];
		if (m < node)
			val += 1;
		if (has_cpu[m])
			val += 1;                     /* PENALTY_FOR_NODE_WITH_CPUS */
		val *= scale;
		val += node_load[m];
		if (val < min_val) {
			min_val = val;
			best = m;
		}
	}
	if (best >= 0)
		used[best] = 1;
	return best;
}

static void build_zonelists(int local)
{
	int prev = local, node, k = 0;

	memset(used, 0, n);
	while ((node = find_next_best_node(local)) >= 0) {
		if (dist[local * n + node] != dist[local * n + prev])
			node_load[node] += 1;
		order[local * n + k++] = node;
		prev = node;
	}
	order_len[local] = k;
}

int main(void)
{
	struct timespec t0, t1;

	if (scanf("%d %d", &n, &scale) != 2 || n <= 0 || n > 65536)
		return 2;
	dist = malloc(sizeof(int) * n * n);
	order = malloc(sizeof(int) * n * n);
	has_cpu = malloc(sizeof(int) * n);
	has_mem = malloc(sizeof(int) * n);
	node_load = calloc(n, sizeof(int));
	order_len = calloc(n, sizeof(int));
	used = malloc(n);
	if (!dist || !order || !has_cpu || !has_mem || !node_load || !order_len || !used)
		return 2;
	for (long i = 0; i < (long)n * n; i++)
		if (scanf("%d", &dist[i]) != 1)
			return 2;
	for (int i = 0; i < n; i++)
		if (scanf("%d", &has_cpu[i]) != 1)
			return 2;
	for (int i = 0; i < n; i++)
		if (scanf("%d", &has_mem[i]) != 1)
			return 2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int local = 0; local < n; local++)
		build_zonelists(local);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.9f\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
	for (int local = 0; local < n; local++) {
		for (int k = 0; k < order_len[local]; k++)
			printf(k ? " %d" : "%d", order[local * n + k]);
		putchar('\n');
	}
	return 0;
}

package io.mcp.affinity.sample;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The fault suite with {@code mcp.affinity.ownership=session-id}. While Redis is down, sessions started through the
 * round-robin front door work as well as those that existed before: every instance knew every owner before the outage,
 * and routing reads no Redis.
 */
class FaultInjectionSessionIdIT extends FaultInjectionIT {

	@Override
	protected List<String> instanceArguments() {
		return List.of("--mcp.affinity.ownership=session-id");
	}

	@Override
	protected void duringRedisOutage(List<Tracked> clients, ProcessCluster cluster) {
		long errorsBefore = this.errors;
		int lostBefore = this.lostOnLiveInstances;
		List<Tracked> startedDuringOutage = new ArrayList<>();
		for (int i = 0; i < 6; i++) {
			startedDuringOutage.add(new Tracked(McpClients.streamable(cluster.frontDoor()), cluster));
		}
		List<Tracked> all = new ArrayList<>(clients);
		all.addAll(startedDuringOutage);
		workload(all, cluster, Set.of(), 3);
		assertThat(this.errors - errorsBefore).as("errors while Redis is down").isZero();
		assertThat(this.lostOnLiveInstances - lostBefore).as("sessions lost while Redis is down").isZero();
		assertThat(startedDuringOutage.stream().map((tracked) -> tracked.owner).distinct().count())
			.as("instances owning the new sessions")
			.isGreaterThan(1);
		clients.addAll(startedDuringOutage);
	}

}

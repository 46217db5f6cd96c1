package io.mcp.affinity.core.redis;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

import io.lettuce.core.RedisURI;
import io.lettuce.core.cluster.models.partitions.Partitions;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode.NodeFlag;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The rules that turn failed reconnects to Redis Cluster nodes into an outage of the store, or not, on a topology of
 * three masters (slots split between them) and a replica without slots, and a clock the test moves. The events
 * themselves, and a real cluster, are in {@link RedisConnectionWatchOnClusterTests}.
 */
class ClusterNodeOutagesTests {

	private final AtomicLong now = new AtomicLong(1_000_000_000L);

	private final Partitions partitions = new Partitions();

	private final ClusterNodeOutages outages;

	ClusterNodeOutagesTests() {
		this.partitions.add(node(7001, 0, 5460));
		this.partitions.add(node(7002, 5461, 10922));
		this.partitions.add(node(7003, 10923, 16383));
		this.partitions.add(node(7004, -1, -1));
		this.partitions.updateCache();
		this.outages = new ClusterNodeOutages(() -> this.partitions, this.now::get);
	}

	@Test
	void oneMasterUnreachableIsAnOutageForThirtySecondsThenAPartialOneThatNoLongerCounts() {
		assertThat(this.outages.reconnectFailed(address(7001))).isTrue();
		assertThat(this.outages.ongoing()).isTrue();
		failEverySecondFor(ClusterNodeOutages.PARTIAL_AFTER.minusSeconds(1), 7001);
		assertThat(this.outages.reconnectFailed(address(7001))).as("29 s on: a failover may still come").isTrue();
		assertThat(this.outages.ongoing()).isTrue();
		failEverySecondFor(Duration.ofSeconds(2), 7001);
		assertThat(this.outages.reconnectFailed(address(7001))).as("31 s on: a partial outage").isFalse();
		assertThat(this.outages.ongoing()).isFalse();
	}

	@Test
	void everyMasterUnreachableIsAnOutageHoweverLongItLasts() {
		failEverySecondFor(Duration.ofMinutes(2), 7001, 7002, 7003);
		assertThat(this.outages.reconnectFailed(address(7002))).isTrue();
		assertThat(this.outages.ongoing()).isTrue();
	}

	@Test
	void aMasterConnectedToAgainNoLongerCounts() {
		this.outages.reconnectFailed(address(7001));
		this.outages.connected(new InetSocketAddress("127.0.0.1", 7001));
		assertThat(this.outages.ongoing()).isFalse();
	}

	@Test
	void aMasterWhoseSlotsMovedToItsReplicaNoLongerCountsAndItsReconnectsAreNotReported() {
		this.outages.reconnectFailed(address(7001));
		RedisClusterNode failed = this.partitions.getPartitionByNodeId("node-7001");
		RedisClusterNode replica = this.partitions.getPartitionByNodeId("node-7004");
		replica.setSlots(failed.getSlots());
		replica.setFlags(Set.of(NodeFlag.UPSTREAM));
		failed.setSlots(List.of());
		this.partitions.updateCache();
		assertThat(this.outages.ongoing()).isFalse();
		assertThat(this.outages.reconnectFailed(address(7001))).isFalse();
	}

	@Test
	void aMasterWhoseReconnectsStoppedFailingForFifteenSecondsNoLongerCountsAndAFailureAfterThatIsANewOutage() {
		failEverySecondFor(ClusterNodeOutages.PARTIAL_AFTER.plusSeconds(5), 7001);
		assertThat(this.outages.reconnectFailed(address(7001))).isFalse();
		this.now.addAndGet(ClusterNodeOutages.QUIET_AFTER.plusSeconds(1).toNanos());
		assertThat(this.outages.ongoing()).isFalse();
		assertThat(this.outages.reconnectFailed(address(7001))).as("a new outage: a failover may come").isTrue();
		assertThat(this.outages.ongoing()).isTrue();
	}

	@Test
	void anAddressTheTopologyDoesNotKnowIsNotReported() {
		assertThat(this.outages.reconnectFailed(address(7999))).isFalse();
		assertThat(this.outages.ongoing()).isFalse();
	}

	private void failEverySecondFor(Duration duration, int... ports) {
		for (long second = 0; second < duration.toSeconds(); second++) {
			this.now.addAndGet(Duration.ofSeconds(1).toNanos());
			for (int port : ports) {
				this.outages.reconnectFailed(address(port));
			}
		}
	}

	// As the client's reconnects name a node: the host of its URI, unresolved.
	private static InetSocketAddress address(int port) {
		return InetSocketAddress.createUnresolved("127.0.0.1", port);
	}

	private static RedisClusterNode node(int port, int from, int to) {
		RedisClusterNode node = new RedisClusterNode();
		node.setNodeId("node-" + port);
		node.setUri(RedisURI.create("127.0.0.1", port));
		if (from >= 0) {
			node.setSlots(java.util.stream.IntStream.rangeClosed(from, to).boxed().toList());
			node.setFlags(Set.of(NodeFlag.UPSTREAM));
		}
		else {
			node.setSlots(List.of());
			node.setFlags(Set.of(NodeFlag.REPLICA));
		}
		return node;
	}

}

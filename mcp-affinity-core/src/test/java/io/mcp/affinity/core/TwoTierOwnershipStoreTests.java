package io.mcp.affinity.core;

import java.time.Duration;
import java.util.List;
import java.util.stream.IntStream;

import io.mcp.affinity.core.redis.RedisOwnershipStore;
import io.mcp.affinity.core.test.AbstractOwnershipStoreContractTests;
import io.mcp.affinity.core.test.RedisCommandCounter;
import io.mcp.affinity.core.test.RedisConnections;
import io.mcp.affinity.core.test.TestRedis;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import reactor.core.publisher.Flux;
import reactor.core.scheduler.Schedulers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class TwoTierOwnershipStoreTests extends AbstractOwnershipStoreContractTests {

	private static final Duration OPERATION_TIMEOUT = RedisOwnershipStore.DEFAULT_OPERATION_TIMEOUT;

	@RegisterExtension
	final RedisConnections connections = new RedisConnections();

	private final String keyPrefix = TestRedis.uniquePrefix();

	@Override
	protected OwnershipStore createStore(String localEpoch) {
		return twoTier(localEpoch, this.connections.factory(), Duration.ofMillis(200));
	}

	private TwoTierOwnershipStore twoTier(String localEpoch, LettuceConnectionFactory factory, Duration refreshInterval) {
		RedisOwnershipStore l2 = new RedisOwnershipStore(TestRedis.template(factory), this.keyPrefix, TIME_TO_LIVE,
				OPERATION_TIMEOUT);
		return new TwoTierOwnershipStore(localEpoch, l2, TIME_TO_LIVE, Duration.ofMillis(500), 10_000, refreshInterval,
				Duration.ofSeconds(1));
	}

	@Test
	void threeStoresOnOneRedisAgreeOnTheOneWinnerOfOneHundredConcurrentClaims() {
		List<TwoTierOwnershipStore> stores = IntStream.range(0, 3)
			.mapToObj((i) -> twoTier("epoch-" + i, this.connections.factory(), Duration.ofMillis(200)))
			.toList();
		SessionId session = newSession();
		List<String> results = Flux.range(0, 100)
			.parallel(8)
			.runOn(Schedulers.parallel())
			.flatMap((i) -> stores.get(i % 3).claim(session, "epoch-" + i))
			.sequential()
			.collectList()
			.block();
		String winner = results.get(0);
		assertThat(results).hasSize(100).containsOnly(winner);
		assertThat(stores).allSatisfy((store) -> assertThat(store.findOwner(session).block()).isEqualTo(winner));
	}

	@Test
	void lookupOfALocalSessionMakesNoRedisRoundTrip() {
		LettuceConnectionFactory factory = this.connections.factory();
		RedisCommandCounter commands = new RedisCommandCounter(this.connections.factory());
		TwoTierOwnershipStore store = twoTier("epoch-a", factory, TIME_TO_LIVE.minusMillis(100));
		SessionId session = newSession();
		store.claim(session, "epoch-a").block();

		long before = commands.count();
		for (int i = 0; i < 1000; i++) {
			assertThat(store.findOwner(session).block()).isEqualTo("epoch-a");
			store.refresh(session, "epoch-a").block();
		}
		assertThat(commands.count() - before).isZero();

		// The counter does see a lookup that misses L1: the zero above is not an artefact.
		store.findOwner(newSession()).blockOptional();
		assertThat(commands.count() - before).isPositive();
	}

	@Test
	void localSessionIsFoundInMemoryWithoutRedisRoundTripAndCountedAsAnL1Hit() {
		RedisCommandCounter commands = new RedisCommandCounter(this.connections.factory());
		TwoTierOwnershipStore store = twoTier("epoch-a", this.connections.factory(), TIME_TO_LIVE.minusMillis(100));
		SessionId session = newSession();
		store.claim(session, "epoch-a").block();

		long before = commands.count();
		long hitsBefore = store.statistics().l1Hits();
		for (int i = 0; i < 1000; i++) {
			assertThat(store.findOwnerInMemory(session, "epoch-a")).isEqualTo("epoch-a");
		}
		assertThat(commands.count() - before).isZero();
		assertThat(store.statistics().l1Hits() - hitsBefore).isEqualTo(1000);
	}

	@Test
	void localSessionDueForARefreshIsLeftToRefreshWhichWritesRedis() throws InterruptedException {
		RedisCommandCounter commands = new RedisCommandCounter(this.connections.factory());
		TwoTierOwnershipStore store = twoTier("epoch-a", this.connections.factory(), Duration.ofMillis(300));
		SessionId session = newSession();
		store.claim(session, "epoch-a").block();
		assertThat(store.findOwnerInMemory(session, "epoch-a")).isEqualTo("epoch-a");

		Thread.sleep(400);
		long hitsBefore = store.statistics().l1Hits();
		assertThat(store.findOwnerInMemory(session, "epoch-a")).isNull();
		// Not counted: the findOwner that follows counts the look-up.
		assertThat(store.statistics().l1Hits()).isEqualTo(hitsBefore);
		long before = commands.scriptCalls();
		store.refresh(session, "epoch-a").block();
		await().atMost(Duration.ofSeconds(2)).until(() -> commands.scriptCalls() > before);
		assertThat(store.findOwnerInMemory(session, "epoch-a")).isEqualTo("epoch-a");
	}

	@Test
	void remoteSessionIsFoundInMemoryUntilEvicted() {
		TwoTierOwnershipStore owner = twoTier("epoch-a", this.connections.factory(), Duration.ofMillis(200));
		TwoTierOwnershipStore other = twoTier("epoch-b", this.connections.factory(), Duration.ofMillis(200));
		SessionId session = newSession();
		owner.claim(session, "epoch-a").block();
		assertThat(other.findOwnerInMemory(session, "epoch-b")).isNull();
		assertThat(other.findOwner(session).block()).isEqualTo("epoch-a");
		assertThat(other.findOwnerInMemory(session, "epoch-b")).isEqualTo("epoch-a");

		other.evictFromL1(session.value());
		assertThat(other.findOwnerInMemory(session, "epoch-b")).isNull();
	}

	@Test
	void lookupOfARemoteSessionCachedInL1MakesNoRedisRoundTrip() {
		TwoTierOwnershipStore owner = twoTier("epoch-a", this.connections.factory(), Duration.ofMillis(200));
		TwoTierOwnershipStore other = twoTier("epoch-b", this.connections.factory(), Duration.ofMillis(200));
		RedisCommandCounter commands = new RedisCommandCounter(this.connections.factory());
		SessionId session = newSession();
		owner.claim(session, "epoch-a").block();
		assertThat(other.findOwner(session).block()).isEqualTo("epoch-a");

		long before = commands.count();
		for (int i = 0; i < 100; i++) {
			other.findOwner(session).block();
		}
		assertThat(commands.count() - before).isZero();
	}

	@Test
	void aHotLocalSessionRefreshesRedisAtMostOncePerInterval() throws InterruptedException {
		LettuceConnectionFactory factory = this.connections.factory();
		RedisCommandCounter commands = new RedisCommandCounter(this.connections.factory());
		TwoTierOwnershipStore store = twoTier("epoch-a", factory, Duration.ofMillis(300));
		SessionId session = newSession();
		store.claim(session, "epoch-a").block();
		long before = commands.scriptCalls();
		long end = System.nanoTime() + Duration.ofMillis(1000).toNanos();
		int requests = 0;
		while (System.nanoTime() < end) {
			store.refresh(session, "epoch-a").block();
			requests++;
			Thread.sleep(2);
		}
		Thread.sleep(100);
		long refreshes = commands.scriptCalls() - before;
		// One second at one refresh per 300 ms: three or four writes, whatever the request rate.
		assertThat(requests).isGreaterThan(100);
		assertThat(refreshes).as("Redis commands for %d requests", requests).isBetween(2L, 5L);
	}

	@Test
	void deletedLocalSessionStaysUnknownHereEvenIfRedisStillListsIt() {
		TwoTierOwnershipStore store = twoTier("epoch-a", this.connections.factory(), Duration.ofMillis(200));
		RedisOwnershipStore direct = new RedisOwnershipStore(this.connections.template(), this.keyPrefix,
				TIME_TO_LIVE, OPERATION_TIMEOUT);
		SessionId session = newSession();
		store.claim(session, "epoch-a").block();
		store.release(session, "epoch-a").block();
		// As if the L2 release had been lost in an outage:
		direct.claim(session, "epoch-a").block();
		assertThat(store.findOwner(session).blockOptional()).isEmpty();
	}

}

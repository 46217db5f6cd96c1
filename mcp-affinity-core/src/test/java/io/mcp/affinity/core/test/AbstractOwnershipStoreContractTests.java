package io.mcp.affinity.core.test;

import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.stream.IntStream;

import io.mcp.affinity.core.OwnershipStore;
import io.mcp.affinity.core.SessionId;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.scheduler.Schedulers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The behaviour every {@link OwnershipStore} promises. Each implementation (in-memory, Redis, two-tier) has a
 * subclass, so all of them pass the same suite.
 */
public abstract class AbstractOwnershipStoreContractTests {

	/** Time-to-live of the stores under test: short, so expiry can be observed. */
	protected static final Duration TIME_TO_LIVE = Duration.ofMillis(1500);

	/**
	 * Creates a fresh store with {@link #TIME_TO_LIVE}, isolated from the stores of other tests.
	 * @param localEpoch the epoch of the instance the store belongs to (only two-tier stores care)
	 * @return the store
	 */
	protected abstract OwnershipStore createStore(String localEpoch);

	protected static SessionId newSession() {
		return SessionId.of(UUID.randomUUID().toString());
	}

	@Test
	void claimOfAFreeSessionWinsAndIsFound() {
		OwnershipStore store = createStore("epoch-a");
		SessionId session = newSession();
		assertThat(store.claim(session, "epoch-a").block()).isEqualTo("epoch-a");
		assertThat(store.findOwner(session).block()).isEqualTo("epoch-a");
	}

	@Test
	void unknownSessionHasNoOwner() {
		assertThat(createStore("epoch-a").findOwner(newSession()).blockOptional()).isEmpty();
	}

	@Test
	void claimOfAHeldSessionLosesAndNamesTheHolder() {
		OwnershipStore store = createStore("epoch-a");
		SessionId session = newSession();
		store.claim(session, "epoch-a").block();
		assertThat(store.claim(session, "epoch-b").block()).isEqualTo("epoch-a");
		assertThat(store.findOwner(session).block()).isEqualTo("epoch-a");
	}

	@Test
	void claimingAgainForTheSameOwnerKeepsIt() {
		OwnershipStore store = createStore("epoch-a");
		SessionId session = newSession();
		store.claim(session, "epoch-a").block();
		assertThat(store.claim(session, "epoch-a").block()).isEqualTo("epoch-a");
	}

	@Test
	void releaseByTheOwnerRemovesTheEntry() {
		OwnershipStore store = createStore("epoch-a");
		SessionId session = newSession();
		store.claim(session, "epoch-a").block();
		assertThat(store.release(session, "epoch-a").block()).isTrue();
		assertThat(store.findOwner(session).blockOptional()).isEmpty();
	}

	@Test
	void releaseByAnotherOwnerLeavesTheEntry() {
		OwnershipStore store = createStore("epoch-a");
		SessionId session = newSession();
		store.claim(session, "epoch-a").block();
		assertThat(store.release(session, "epoch-b").block()).isFalse();
		assertThat(store.findOwner(session).block()).isEqualTo("epoch-a");
	}

	@Test
	void releasedSessionCanBeClaimedAfresh() {
		OwnershipStore store = createStore("epoch-a");
		SessionId session = newSession();
		store.claim(session, "epoch-b").block();
		store.release(session, "epoch-b").block();
		assertThat(store.claim(session, "epoch-c").block()).isEqualTo("epoch-c");
	}

	@Test
	void entryExpiresWithoutRefresh() {
		OwnershipStore store = createStore("epoch-a");
		SessionId session = newSession();
		store.claim(session, "epoch-b").block();
		await().atMost(TIME_TO_LIVE.multipliedBy(4))
			.pollInterval(Duration.ofMillis(100))
			.until(() -> store.findOwner(session).blockOptional().isEmpty());
	}

	@Test
	void refreshKeepsAnEntryAlivePastItsTimeToLive() throws InterruptedException {
		OwnershipStore store = createStore("epoch-a");
		SessionId session = newSession();
		store.claim(session, "epoch-a").block();
		long end = System.nanoTime() + TIME_TO_LIVE.multipliedBy(3).toNanos();
		while (System.nanoTime() < end) {
			store.refresh(session, "epoch-a").block();
			Thread.sleep(TIME_TO_LIVE.toMillis() / 6);
		}
		assertThat(store.findOwner(session).block()).isEqualTo("epoch-a");
	}

	@Test
	void anOwnerFoundInMemoryIsTheOneFindOwnerNames() {
		OwnershipStore store = createStore("epoch-a");
		SessionId mine = newSession();
		SessionId theirs = newSession();
		store.claim(mine, "epoch-a").block();
		store.claim(theirs, "epoch-b").block();
		// A store may always decline to answer from memory; when it answers, it must agree with findOwner.
		assertThat(store.findOwnerInMemory(mine, "epoch-a")).isIn(null, "epoch-a");
		assertThat(store.findOwnerInMemory(theirs, "epoch-a")).isIn(null, "epoch-b");
		assertThat(store.findOwnerInMemory(newSession(), "epoch-a")).isNull();
	}

	@Test
	void aReleasedSessionIsNotFoundInMemory() {
		OwnershipStore store = createStore("epoch-a");
		SessionId session = newSession();
		store.claim(session, "epoch-a").block();
		store.findOwnerInMemory(session, "epoch-a");
		store.release(session, "epoch-a").block();
		assertThat(store.findOwnerInMemory(session, "epoch-a")).isNull();
	}

	@Test
	void usingASessionThroughMemoryKeepsItAlivePastItsTimeToLive() throws InterruptedException {
		OwnershipStore store = createStore("epoch-a");
		SessionId session = newSession();
		store.claim(session, "epoch-a").block();
		long end = System.nanoTime() + TIME_TO_LIVE.multipliedBy(3).toNanos();
		while (System.nanoTime() < end) {
			// As the resolver uses a store: refresh only when memory did not answer.
			if (store.findOwnerInMemory(session, "epoch-a") == null) {
				assertThat(store.findOwner(session).block()).isEqualTo("epoch-a");
				store.refresh(session, "epoch-a").block();
			}
			Thread.sleep(TIME_TO_LIVE.toMillis() / 6);
		}
		assertThat(store.findOwner(session).block()).isEqualTo("epoch-a");
	}

	@Test
	void refreshByAnotherOwnerDoesNotTakeTheEntry() {
		OwnershipStore store = createStore("epoch-a");
		SessionId session = newSession();
		store.claim(session, "epoch-a").block();
		store.refresh(session, "epoch-b").block();
		assertThat(store.findOwner(session).block()).isEqualTo("epoch-a");
	}

	@Test
	void concurrentClaimsHaveExactlyOneWinner() {
		OwnershipStore store = createStore("epoch-0");
		SessionId session = newSession();
		List<String> results = Flux.fromStream(IntStream.range(0, 100).boxed())
			.parallel(8)
			.runOn(Schedulers.parallel())
			.flatMap((i) -> store.claim(session, "epoch-" + i))
			.sequential()
			.collectList()
			.block();
		assertThat(results).hasSize(100);
		assertThat(results).containsOnly(results.get(0));
		assertThat(store.findOwner(session).block()).isEqualTo(results.get(0));
	}

}

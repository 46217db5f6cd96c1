package io.mcp.affinity.core;

import java.net.ConnectException;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

import io.mcp.affinity.core.memory.InMemoryOwnershipStore;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;
import static org.awaitility.Awaitility.await;

/**
 * When the two-tier store takes its L2 to be down. The L2 here is an in-memory store that can be made to fail on
 * demand, the way a Redis call fails: the rules under test are the two-tier store's own, whatever the L2 is.
 */
class TwoTierOutageDetectionTests {

	private static final String SELF = "epoch-self";

	private final FailingL2 l2 = new FailingL2();

	private final TwoTierOwnershipStore store = new TwoTierOwnershipStore(SELF, this.l2, Duration.ofMinutes(30),
			Duration.ofMinutes(1), 1_000, Duration.ofMinutes(5), Duration.ofMillis(300));

	@Test
	void oneSlowCallFailsThatCallAloneAndTheNextOneReachesTheStore() {
		this.l2.failWith(timeout());
		SessionId session = newSession();
		assertThatExceptionOfType(OwnershipStoreUnavailableException.class)
			.isThrownBy(() -> this.store.claim(session, SELF).block());
		assertThat(this.store.isDegraded()).isFalse();
		// Nothing held here that the cluster does not know about.
		assertThat(this.store.findOwnerInMemory(session, SELF)).isNull();

		this.l2.answer();
		assertThat(this.store.claim(session, SELF).block()).isEqualTo(SELF);
		assertThat(this.l2.calls.get()).isEqualTo(2);
	}

	@Test
	void failuresSeparatedByAnswersNeverAddUpToAnOutage() {
		for (int i = 0; i < 10; i++) {
			this.l2.failWith(timeout());
			assertThat(this.store.findOwner(newSession()).onErrorResume((ex) -> Mono.empty()).block()).isNull();
			this.l2.answer();
			this.store.findOwner(newSession()).block();
		}
		assertThat(this.store.isDegraded()).isFalse();
	}

	@Test
	void threeFailedCallsInARowAreAnOutage() {
		this.l2.failWith(timeout());
		for (int i = 1; i < TwoTierOwnershipStore.FAILURES_BEFORE_DEGRADED; i++) {
			this.store.findOwner(newSession()).onErrorResume((ex) -> Mono.empty()).block();
			assertThat(this.store.isDegraded()).isFalse();
		}
		this.store.findOwner(newSession()).onErrorResume((ex) -> Mono.empty()).block();
		assertThat(this.store.isDegraded()).isTrue();
		// Degraded: a claim for this instance is held here, to be published when the L2 is back.
		SessionId session = newSession();
		assertThat(this.store.claim(session, SELF).block()).isEqualTo(SELF);
		int calls = this.l2.calls.get();
		assertThat(this.store.findOwner(session).block()).isEqualTo(SELF);
		assertThat(this.l2.calls.get()).isEqualTo(calls);
	}

	// A Redis Cluster master down and the others up: the calls for its keys time out while the rest are answered.
	@Test
	void callsThatFailedWhileAnotherWasAnsweredAreNotAnOutageButCallsThatAllWaitedInVainAre() {
		OwnershipStore partlyDown = new OwnershipStore() {

			@Override
			public Mono<String> claim(SessionId sessionId, String ownerEpoch) {
				return Mono.just(ownerEpoch);
			}

			@Override
			public Mono<String> findOwner(SessionId sessionId) {
				return sessionId.value().startsWith("down-")
						? Mono.delay(Duration.ofMillis(300)).then(Mono.error(timeout())) : Mono.empty();
			}

			@Override
			public Mono<Void> refresh(SessionId sessionId, String ownerEpoch) {
				return Mono.empty();
			}

			@Override
			public Mono<Boolean> release(SessionId sessionId, String ownerEpoch) {
				return Mono.just(false);
			}

		};
		TwoTierOwnershipStore store = new TwoTierOwnershipStore(SELF, partlyDown, Duration.ofMinutes(30));
		Mono<String> down = Mono.defer(() -> store.findOwner(SessionId.of("down-" + UUID.randomUUID())))
			.onErrorResume((ex) -> Mono.empty());
		Mono<String> answeredMeanwhile = Mono.delay(Duration.ofMillis(100)).then(store.findOwner(newSession()));
		Flux.merge(down, down, down, answeredMeanwhile).blockLast();
		assertThat(store.isDegraded()).isFalse();

		Flux.merge(down, down, down).blockLast();
		assertThat(store.isDegraded()).isTrue();
	}

	@Test
	void anUnreachableStoreIsAnOutageAtOnceAndIsProbedOncePerBackOff() throws InterruptedException {
		this.l2.failWith(new OwnershipStoreUnavailableException("refused", new ConnectException("refused"), true));
		this.store.findOwner(newSession()).onErrorResume((ex) -> Mono.empty()).block();
		assertThat(this.store.isDegraded()).isTrue();
		int callsWhenDegraded = this.l2.calls.get();

		// Within the back-off every call fails fast, without reaching the L2.
		for (int i = 0; i < 20; i++) {
			this.store.findOwner(newSession()).onErrorResume((ex) -> Mono.empty()).block();
		}
		assertThat(this.l2.calls.get()).isEqualTo(callsWhenDegraded);

		// After it, one call probes the L2; when it answers, the outage is over.
		Thread.sleep(400);
		this.l2.answer();
		assertThat(this.store.claim(newSession(), SELF).block()).isEqualTo(SELF);
		assertThat(this.l2.calls.get()).isEqualTo(callsWhenDegraded + 1);
		assertThat(this.store.isDegraded()).isFalse();
	}

	@Test
	void aReportedUnreachableStoreIsAnOutageAndAReportedTimeoutIsNot() {
		this.store.reportFailure(timeout());
		assertThat(this.store.isDegraded()).isFalse();
		this.store.reportFailure(new OwnershipStoreUnavailableException("refused", new ConnectException(), true));
		assertThat(this.store.isDegraded()).isTrue();
	}

	@Test
	void anAnswerReportedFromOutsideEndsAnOutageThatNoCallOfTheStoreWouldNotice() {
		SessionId held = newSession();
		this.store.reportFailure(new OwnershipStoreUnavailableException("refused", new ConnectException(), true));
		assertThat(this.store.claim(held, SELF).block()).isEqualTo(SELF);
		int calls = this.l2.calls.get();

		// Everything is answered from L1, so only the heartbeat, on the same Redis, can tell that it is back.
		this.store.reportAnswer();
		assertThat(this.store.isDegraded()).isFalse();
		// ...and what was held here during the outage is published now.
		await().atMost(Duration.ofSeconds(2)).until(() -> this.l2.calls.get() > calls);
		assertThat(this.l2.delegate.findOwner(held).block()).isEqualTo(SELF);
	}

	private static OwnershipStoreUnavailableException timeout() {
		return new OwnershipStoreUnavailableException("Redis lookup failed: TimeoutException", null);
	}

	private static SessionId newSession() {
		return SessionId.of(UUID.randomUUID().toString());
	}

	/** An in-memory store whose calls fail with a given error while told to. */
	private static final class FailingL2 implements OwnershipStore {

		final InMemoryOwnershipStore delegate = new InMemoryOwnershipStore(Duration.ofMinutes(30), 1_000);

		final AtomicInteger calls = new AtomicInteger();

		private volatile OwnershipStoreUnavailableException failure;

		void failWith(OwnershipStoreUnavailableException failure) {
			this.failure = failure;
		}

		void answer() {
			this.failure = null;
		}

		private <T> Mono<T> call(Mono<T> answer) {
			return Mono.defer(() -> {
				this.calls.incrementAndGet();
				OwnershipStoreUnavailableException current = this.failure;
				return (current != null) ? Mono.error(current) : answer;
			});
		}

		@Override
		public Mono<String> claim(SessionId sessionId, String ownerEpoch) {
			return call(this.delegate.claim(sessionId, ownerEpoch));
		}

		@Override
		public Mono<String> findOwner(SessionId sessionId) {
			return call(this.delegate.findOwner(sessionId));
		}

		@Override
		public Mono<Void> refresh(SessionId sessionId, String ownerEpoch) {
			return call(this.delegate.refresh(sessionId, ownerEpoch));
		}

		@Override
		public Mono<Boolean> release(SessionId sessionId, String ownerEpoch) {
			return call(this.delegate.release(sessionId, ownerEpoch));
		}

	}

}

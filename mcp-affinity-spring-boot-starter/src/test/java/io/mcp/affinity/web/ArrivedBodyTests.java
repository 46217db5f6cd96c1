package io.mcp.affinity.web;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.DefaultEventLoop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Sinks;
import reactor.test.StepVerifier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link ArrivedBody}: whole or streamed by what arrived in the turn, in order, and every buffer released when the
 * answer is not wanted.
 */
class ArrivedBodyTests {

	private final DefaultEventLoop loop = new DefaultEventLoop();

	@AfterEach
	void stop() {
		this.loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
	}

	@Test
	void aBodyThatEndedInTheTurnIsWholeInOneBuffer() {
		ArrivedBody arrived = ArrivedBody.atEndOfTurn(Flux.just(part("data: a\n"), part("\n")), this.loop, () -> {
		}).block(Duration.ofSeconds(5));

		ByteBuf whole = arrived.whole(ByteBufAllocator.DEFAULT);
		assertThat(whole.toString(StandardCharsets.UTF_8)).isEqualTo("data: a\n\n");
		whole.release();
	}

	@Test
	void aBodyStillArrivingStreamsOnWithThePartsAlreadyInFirst() {
		Sinks.Many<ByteBuf> owner = Sinks.many().unicast().onBackpressureBuffer();
		owner.tryEmitNext(part("first"));
		ArrivedBody arrived = ArrivedBody.atEndOfTurn(owner.asFlux(), this.loop, () -> {
		}).block(Duration.ofSeconds(5));

		assertThat(arrived.whole(ByteBufAllocator.DEFAULT)).isNull();
		StepVerifier.create(arrived.stream().map(ArrivedBodyTests::text))
			.expectNext("first")
			.then(() -> owner.tryEmitNext(part("second")))
			.expectNext("second")
			.then(owner::tryEmitComplete)
			.verifyComplete();
	}

	@Test
	void aStreamPassesTheSubscribersDemandOn() {
		AtomicLong asked = new AtomicLong();
		Flux<ByteBuf> owner = Flux.range(0, 100)
			.map((i) -> part("p" + i))
			.concatWith(Flux.never())
			.doOnRequest(asked::addAndGet);
		ArrivedBody arrived = ArrivedBody.atEndOfTurn(owner, this.loop, () -> {
		}).block(Duration.ofSeconds(5));

		// One turn's worth of parts before anyone asked; then what the subscriber asks for, never a turn's worth more.
		assertThat(asked).hasValue(16);
		StepVerifier.create(arrived.stream().map(ArrivedBodyTests::text), 0)
			.thenRequest(40)
			.expectNextCount(40)
			.then(() -> assertThat(asked.get()).isBetween(40L, 56L))
			.thenRequest(60)
			.expectNextCount(60)
			.then(() -> assertThat(asked.get()).isBetween(100L, 116L))
			.thenCancel()
			.verify(Duration.ofSeconds(5));
	}

	@Test
	void anAnswerNotWantedBeforeTheTurnEndsEndsTheConnectionAndTakesNothing() throws Exception {
		AtomicBoolean connectionEnded = new AtomicBoolean();
		AtomicBoolean bodyStopped = new AtomicBoolean();
		AtomicBoolean partTaken = new AtomicBoolean();
		Flux<ByteBuf> owner = Flux.just(part("first"))
			.doOnNext((part) -> partTaken.set(true))
			.concatWith(Flux.never())
			.doOnCancel(() -> bodyStopped.set(true));
		CountDownLatch turnStarted = new CountDownLatch(1);
		CountDownLatch cancelled = new CountDownLatch(1);
		// The loop busy until the answer is cancelled: its turn ends after that.
		this.loop.execute(() -> {
			turnStarted.countDown();
			await(cancelled);
		});
		turnStarted.await();
		ArrivedBody.atEndOfTurn(owner, this.loop, () -> connectionEnded.set(true)).subscribe().dispose();
		cancelled.countDown();
		this.loop.submit(() -> {
		}).get(5, TimeUnit.SECONDS);

		// The connection holds what it read, and releases it as it ends.
		assertThat(connectionEnded).isTrue();
		assertThat(bodyStopped).isTrue();
		assertThat(partTaken).isFalse();
	}

	@Test
	void aStreamCancelledReleasesThePartsNotSentAndStopsTheBody() {
		ByteBuf first = part("first");
		ByteBuf second = part("second");
		AtomicBoolean bodyStopped = new AtomicBoolean();
		Flux<ByteBuf> owner = Flux.just(first, second)
			.concatWith(Flux.never())
			.doOnCancel(() -> bodyStopped.set(true));
		ArrivedBody arrived = ArrivedBody.atEndOfTurn(owner, this.loop, () -> {
		}).block(Duration.ofSeconds(5));

		StepVerifier.create(arrived.stream(), 0).thenCancel().verify(Duration.ofSeconds(5));

		assertThat(bodyStopped).isTrue();
		assertThat(first.refCnt()).isZero();
		assertThat(second.refCnt()).isZero();
	}

	private static ByteBuf part(String text) {
		return Unpooled.copiedBuffer(text, StandardCharsets.UTF_8);
	}

	private static String text(ByteBuf part) {
		try {
			return part.toString(StandardCharsets.UTF_8);
		}
		finally {
			part.release();
		}
	}

	private static void await(CountDownLatch latch) {
		try {
			latch.await();
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
		}
	}

}

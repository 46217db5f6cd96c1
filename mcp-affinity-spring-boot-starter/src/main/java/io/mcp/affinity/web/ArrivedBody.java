package io.mcp.affinity.web;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoop;
import org.jspecify.annotations.Nullable;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;
import reactor.core.publisher.Mono;

/**
 * An owner's answer body as it stands at the end of the event loop's turn in which the answer's headers arrived:
 * whole by then, or still arriving. An owner's short answer (its headers, an SSE event and the stream's end, or a JSON
 * body) mostly comes in one read, and a whole body leaves with the response headers in one write (Reactor Netty sends a
 * single-part body as one message): as a stream it left in two or three, its headers written and flushed first and its
 * end last. A body still arriving streams on, the parts already in first, the client's demand passed to the owner's
 * connection. Nothing waits for a part that has not arrived: the turn ends as soon as the loop has handled what its
 * read of the socket brought.
 */
final class ArrivedBody implements CoreSubscriber<ByteBuf> {

	// Parts taken in the turn: a body still arriving after as many streams on, with the client's demand.
	private static final int PARTS_PER_TURN = 16;

	private final List<ByteBuf> parts = new ArrayList<>(2);

	private @Nullable Subscription upstream;

	private boolean complete;

	private @Nullable Throwable error;

	private @Nullable FluxSink<ByteBuf> stream;

	private boolean cancelled;

	private ArrivedBody() {
	}

	/**
	 * Takes what has arrived of a body by the end of the current turn of the event loop its connection reads on.
	 * @param body the body, not subscribed to yet
	 * @param loop the event loop of the body's connection (the one running now, as the answer's headers arrive)
	 * @param onCancel what ends the body's connection when the answer is not wanted before the turn ends
	 * @return what arrived, whose body is then subscribed to: {@link #whole} or {@link #stream} must take it on
	 */
	static Mono<ArrivedBody> atEndOfTurn(Flux<ByteBuf> body, EventLoop loop, Runnable onCancel) {
		return Mono.create((sink) -> {
			ArrivedBody arrived = new ArrivedBody();
			sink.onCancel(() -> {
				arrived.cancel();
				onCancel.run();
			});
			try {
				loop.execute(() -> {
					// What the connection read and queued in this turn is handed over now, on this thread.
					body.subscribe(arrived);
					sink.success(arrived);
				});
			}
			catch (RejectedExecutionException ex) {
				// The loop is shutting down, and the connection with it.
				sink.error(ex);
			}
		});
	}

	@Override
	public void onSubscribe(Subscription subscription) {
		synchronized (this) {
			this.upstream = subscription;
			if (this.cancelled) {
				subscription.cancel();
				return;
			}
		}
		subscription.request(PARTS_PER_TURN);
	}

	@Override
	public void onNext(ByteBuf part) {
		FluxSink<ByteBuf> stream;
		synchronized (this) {
			if (this.cancelled) {
				part.release();
				return;
			}
			stream = this.stream;
			if (stream == null) {
				this.parts.add(part);
				return;
			}
		}
		stream.next(part);
	}

	@Override
	public void onError(Throwable error) {
		FluxSink<ByteBuf> stream;
		synchronized (this) {
			stream = this.stream;
			if (stream == null) {
				this.error = error;
				return;
			}
		}
		stream.error(error);
	}

	@Override
	public void onComplete() {
		FluxSink<ByteBuf> stream;
		synchronized (this) {
			stream = this.stream;
			if (stream == null) {
				this.complete = true;
				return;
			}
		}
		stream.complete();
	}

	/**
	 * The whole body in one buffer, when it had all arrived (an empty one for no body).
	 * @param allocator where a body in several parts is joined
	 * @return the body, or {@code null} when it is still arriving (or failed): then {@link #stream} takes it
	 */
	synchronized @Nullable ByteBuf whole(ByteBufAllocator allocator) {
		if (!this.complete || this.cancelled) {
			return null;
		}
		ByteBuf whole;
		if (this.parts.isEmpty()) {
			whole = Unpooled.EMPTY_BUFFER;
		}
		else if (this.parts.size() == 1) {
			whole = this.parts.get(0);
		}
		else {
			CompositeByteBuf joined = allocator.compositeBuffer(this.parts.size());
			joined.addComponents(true, this.parts);
			whole = joined;
		}
		this.parts.clear();
		return whole;
	}

	/**
	 * The body as a stream: the parts already in, then the rest as it arrives, each request of the subscriber passed on
	 * to the connection (which holds at most the parts of one turn more than asked for).
	 * @return the body, to subscribe to once
	 */
	Flux<ByteBuf> stream() {
		return Flux.<ByteBuf>create((sink) -> {
			synchronized (this) {
				for (ByteBuf part : this.parts) {
					sink.next(part);
				}
				this.parts.clear();
				if (this.error != null) {
					sink.error(this.error);
				}
				else if (this.complete) {
					sink.complete();
				}
				else {
					this.stream = sink;
				}
			}
			sink.onRequest(this::request);
			sink.onCancel(this::cancel);
		}).doOnDiscard(ByteBuf.class, ByteBuf::release);
	}

	private void request(long demand) {
		Subscription upstream = this.upstream;
		if (upstream != null) {
			upstream.request(demand);
		}
	}

	/** Releases what arrived and stops the body (which ends its connection). */
	void cancel() {
		Subscription upstream;
		synchronized (this) {
			if (this.cancelled) {
				return;
			}
			this.cancelled = true;
			this.parts.forEach(ByteBuf::release);
			this.parts.clear();
			upstream = this.upstream;
		}
		if (upstream != null) {
			upstream.cancel();
		}
	}

}

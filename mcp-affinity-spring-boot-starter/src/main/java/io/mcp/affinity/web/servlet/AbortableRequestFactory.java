package io.mcp.affinity.web.servlet;

import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.function.Supplier;

import org.apache.hc.client5.http.classic.HttpClient;
import org.apache.hc.client5.http.protocol.HttpClientContext;
import org.apache.hc.core5.concurrent.Cancellable;
import org.apache.hc.core5.http.ClassicHttpRequest;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.HttpException;
import org.apache.hc.core5.http.impl.io.HttpRequestExecutor;
import org.apache.hc.core5.http.io.HttpClientConnection;
import org.apache.hc.core5.http.io.HttpResponseInformationCallback;
import org.apache.hc.core5.http.protocol.HttpContext;
import org.apache.hc.core5.util.Timeout;
import org.jspecify.annotations.Nullable;
import org.springframework.http.HttpMethod;
import org.springframework.http.client.HttpComponentsClientHttpRequestFactory;

/**
 * Spring's request factory for Apache HttpClient 5 (classic: the calling thread does the I/O, no hand-over between
 * threads), which also hands each request it creates to whoever is forwarding on that thread, so the forward can abort
 * it from another thread. Aborting is the only way to end a blocking read (an interrupt does not), and closing the
 * response would first read the rest of the body, which never ends on an open SSE stream. The handle also learns the
 * connection the request went out on (through the client's {@link #requestExecutor() request executor}), so the
 * forward can ask whether more of the owner's answer is arriving before it reads.
 */
public final class AbortableRequestFactory extends HttpComponentsClientHttpRequestFactory {

	private static final String ABORT_ATTRIBUTE = Abort.class.getName();

	private final ThreadLocal<Abort> current = new ThreadLocal<>();

	/**
	 * Creates the factory.
	 * @param httpClient the client
	 */
	public AbortableRequestFactory(HttpClient httpClient) {
		super(httpClient);
	}

	/**
	 * Runs a forward whose request, once created, the given handle can abort.
	 * @param <T> the forward's result
	 * @param abort receives the request
	 * @param forward the forward, which creates its request on this thread
	 * @return the forward's result
	 */
	<T> T forwarding(Abort abort, Supplier<T> forward) {
		this.current.set(abort);
		try {
			return forward.get();
		}
		finally {
			this.current.remove();
		}
	}

	/**
	 * The request executor the client must use for {@link Abort#answerArriving} to know the connection of a request.
	 * @return a new executor
	 */
	public static HttpRequestExecutor requestExecutor() {
		return new ConnectionRecordingExecutor();
	}

	@Override
	protected void postProcessHttpRequest(ClassicHttpRequest request) {
		Abort abort = this.current.get();
		if (abort != null && request instanceof Cancellable cancellable) {
			abort.set(cancellable);
		}
	}

	@Override
	protected @Nullable HttpContext createHttpContext(HttpMethod httpMethod, URI uri) {
		Abort abort = this.current.get();
		if (abort == null) {
			return null;
		}
		HttpClientContext context = HttpClientContext.create();
		context.setAttribute(ABORT_ATTRIBUTE, abort);
		return context;
	}

	/** Aborts one forward's request: ends its wait for headers, or its streamed body. */
	static final class Abort {

		private @Nullable Cancellable request;

		private volatile @Nullable HttpClientConnection connection;

		private boolean aborted;

		synchronized void set(Cancellable request) {
			this.request = request;
			if (this.aborted) {
				request.cancel();
			}
		}

		synchronized void abort() {
			this.aborted = true;
			if (this.request != null) {
				this.request.cancel();
			}
		}

		/**
		 * Whether more of the owner's answer has arrived, or arrives within the given time: a read of the answer's
		 * body would then not wait for the owner (beyond the rest of a chunk the owner is in the middle of sending).
		 * Called on the thread reading the answer, between reads.
		 * @param wait how long to wait for it, at least a millisecond
		 * @return {@code false} when nothing came in time, or the connection is not known
		 * @throws IOException when the connection failed (or the forward was aborted)
		 */
		boolean answerArriving(Duration wait) throws IOException {
			HttpClientConnection connection = this.connection;
			// The client's connection buffers what it read: it answers from that buffer first, then waits on the
			// socket for at most the given time, reading what comes into the same buffer.
			return connection != null && connection.isDataAvailable(Timeout.of(wait));
		}

	}

	/** Hands each request's connection to the request's {@link Abort}, found in the request's context. */
	private static final class ConnectionRecordingExecutor extends HttpRequestExecutor {

		@Override
		public ClassicHttpResponse execute(ClassicHttpRequest request, HttpClientConnection connection,
				@Nullable HttpResponseInformationCallback informationCallback, HttpContext context)
				throws IOException, HttpException {
			if (context.getAttribute(ABORT_ATTRIBUTE) instanceof Abort abort) {
				abort.connection = connection;
			}
			return super.execute(request, connection, informationCallback, context);
		}

	}

}

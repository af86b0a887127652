// The reference for the API benchmark: a bare Fastify route that parses the same JSON body and answers 200.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.post('/contacts/', async (req) => {
  const body = req.body as Record<string, unknown>;
  return { status: 'success', item: { id: 1, name: `${String(body.firstname)} ${String(body.lastname)}` } };
});
const address = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`listening ${address}\n`);

import { Client } from 'pg';

/**
 * The local host's demo source: a `demo.orders` table an admin can sync straight away
 * (README walkthrough). Created once; existing data is left alone.
 */
export async function seedDemoDatabase(url: string): Promise<{ created: boolean }> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const exists = await client.query(`SELECT 1 FROM information_schema.tables WHERE table_schema = 'demo' AND table_name = 'orders'`);
    if (exists.rowCount) return { created: false };
    await client.query('CREATE SCHEMA IF NOT EXISTS demo');
    await client.query(`
      CREATE TABLE demo.orders (
        order_id integer PRIMARY KEY,
        customer varchar(120) NOT NULL,
        amount numeric(12,2) NOT NULL,
        status text NOT NULL DEFAULT 'open',
        ordered_at timestamptz NOT NULL,
        is_deleted boolean NOT NULL DEFAULT false,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await client.query(`
      INSERT INTO demo.orders (order_id, customer, amount, status, ordered_at)
      SELECT g, 'Customer ' || (g % 97), round((random() * 1000)::numeric, 2),
             (ARRAY['open','shipped','closed'])[1 + g % 3],
             timestamptz '2023-01-01 00:00:00+00' + (g * interval '61 hours')
      FROM generate_series(1, 500) g`);
    return { created: true };
  } finally {
    await client.end();
  }
}

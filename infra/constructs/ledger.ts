import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { TableDescription } from '../description.ts';

export interface LedgerProps {
  readonly description: TableDescription;
  readonly deletionProtection: boolean;
}

/** Item-level actions only: no streams, no table management. */
const readActions = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:Scan',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DescribeTable',
];
const writeActions = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'];

const projectionTypes = {
  ALL: dynamodb.ProjectionType.ALL,
  KEYS_ONLY: dynamodb.ProjectionType.KEYS_ONLY,
} as const satisfies Record<TableDescription['indexes'][number]['projection'], dynamodb.ProjectionType>;

/** The single DynamoDB table that holds every Sluice item (see docs/data-model.md). */
export class Ledger extends Construct {
  readonly table: dynamodb.Table;
  private readonly description: TableDescription;

  constructor(scope: Construct, id: string, props: LedgerProps) {
    super(scope, id);
    const { description } = props;
    this.description = description;

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: description.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: description.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: description.ttlAttribute,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: props.deletionProtection,
      // Tenants' history lives here: deleting the stack must never delete the data.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    for (const index of description.indexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: index.sortKey, type: dynamodb.AttributeType.STRING },
        projectionType: projectionTypes[index.projection],
      });
    }
  }

  grantReadData(grantee: iam.IGrantable): iam.Grant {
    return this.grantOnTableAndIndexes(grantee, readActions);
  }

  grantReadWriteData(grantee: iam.IGrantable): iam.Grant {
    return this.grantOnTableAndIndexes(grantee, [...readActions, ...writeActions]);
  }

  /**
   * Names each index ARN instead of `table.grant*`'s `<table>/index/*`, so the policy carries no
   * wildcard and grants nothing on indexes added later outside the description.
   */
  private grantOnTableAndIndexes(grantee: iam.IGrantable, actions: string[]): iam.Grant {
    const tableArn = this.table.tableArn;
    return iam.Grant.addToPrincipal({
      grantee,
      actions,
      resourceArns: [tableArn, ...this.description.indexes.map((index) => `${tableArn}/index/${index.name}`)],
    });
  }
}
